// Package retention deletes audit events older than the retention period: in small batches, each
// its own short statement, and on one replica at a time — the holder of the store's lease
// LeaseName — so that neither requests nor the other replicas wait behind it.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/regiond/regiond/internal/store"
)

// LeaseName is the lease the pruning replica holds.
const LeaseName = "audit-prune"

// AuditPruner prunes the audit trail. Zero sizes take the documented defaults.
type AuditPruner struct {
	Store *store.Store
	// Retention is the age past which events are deleted; it must be positive.
	Retention time.Duration
	// Holder names this replica in the lease; every replica needs its own.
	Holder string
	Log    *slog.Logger
	// Interval separates passes (config's --audit-prune-interval); the first runs at once.
	Interval time.Duration
	// Batch is the number of events one statement deletes (default 500).
	Batch int
	// LeaseTTL is how long the lease outlives a replica that dies while pruning (default 1m).
	LeaseTTL time.Duration
}

func (p *AuditPruner) defaults() {
	if p.Batch <= 0 {
		p.Batch = 500
	}
	if p.LeaseTTL <= 0 {
		p.LeaseTTL = time.Minute
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
}

// Run prunes every Interval until ctx ends.
func (p *AuditPruner) Run(ctx context.Context) {
	p.defaults()
	for {
		deleted, _, err := p.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			p.Log.Warn("pruning the audit trail failed; it is retried at the next pass", "error", err)
		case deleted > 0:
			p.Log.Info("pruned the audit trail", "deleted", deleted, "retention", p.Retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.Interval):
		}
	}
}

// Prune makes one pass: when this replica gets the lease, it deletes every event older than the
// retention, a batch at a time, renewing the lease between batches (and stopping should it be
// lost), then releases it. held reports whether it got the lease; another replica holding it is
// not an error.
func (p *AuditPruner) Prune(ctx context.Context) (deleted int64, held bool, err error) {
	p.defaults()
	if held, err = p.Store.TryLease(ctx, LeaseName, p.Holder, p.LeaseTTL); err != nil || !held {
		return 0, false, err
	}
	defer func() {
		// Released even when ctx ended (a shutdown), so that another replica need not wait.
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.Store.ReleaseLease(release, LeaseName, p.Holder); err != nil {
			p.Log.Warn("releasing the audit pruning lease failed; it expires by itself", "error", err)
		}
	}()
	before := time.Now().Add(-p.Retention)
	for {
		n, err := p.Store.PruneAudit(ctx, before, p.Batch)
		deleted += n
		if err != nil || n < int64(p.Batch) {
			return deleted, true, err
		}
		if still, err := p.Store.TryLease(ctx, LeaseName, p.Holder, p.LeaseTTL); err != nil || !still {
			return deleted, true, err
		}
	}
}
