package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// MariaDB Galera Cluster: every node takes writes, certification conflicts surface as deadlock
// errors (retried by the store), and a node applies other nodes' writes asynchronously, so that on
// Galera every regiond session reads with wsrep_sync_wait=1 unless the DSN sets it. See
// docs/galera.md.

// FailoverNetwork is the DSN network that lists several servers: mysql://user@failover(h1:3306,
// h2:3306,h3:3306)/db. Each new connection starts from the next address of the list, so that
// connections spread over the nodes, and goes on to the following ones when it is refused.
const FailoverNetwork = "failover"

// failoverDialTimeout bounds each address's connect, so that a host that does not answer at all
// leaves time to try the others within the DSN's timeout.
const failoverDialTimeout = 2 * time.Second

var failoverNext atomic.Uint32

func init() {
	gomysql.RegisterDialContext(FailoverNetwork, dialFailover)
}

func dialFailover(ctx context.Context, list string) (net.Conn, error) {
	addrs := strings.Split(list, ",")
	start := int(failoverNext.Add(1))
	var errs []error
	for i := range addrs {
		addr := addrs[(start+i)%len(addrs)]
		c, err := (&net.Dialer{Timeout: failoverDialTimeout}).DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// checkFailoverList refuses a failover address list whose entries are not host:port.
func checkFailoverList(list string) error {
	for _, addr := range strings.Split(list, ",") {
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
			return fmt.Errorf("%s(%s): %q is not host:port", FailoverNetwork, list, addr)
		}
	}
	return nil
}

// openMySQLPool opens the connection pool of cfg. On a Galera node it sets wsrep_sync_wait=1 on
// every session, unless the DSN sets it, and hands out connections only to nodes that take
// statements.
func (s *Store) openMySQLPool(ctx context.Context, cfg *gomysql.Config) (*sql.DB, error) {
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	probe := sql.OpenDB(connector)
	defer probe.Close()
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	var name, value string
	err = probe.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'").Scan(&name, &value)
	if errors.Is(err, sql.ErrNoRows) { // MySQL: no Galera
		return sql.OpenDB(connector), nil
	}
	if err != nil {
		return nil, err
	}
	if s.galera = value == "ON"; !s.galera {
		return sql.OpenDB(connector), nil
	}
	if _, set := cfg.Params["wsrep_sync_wait"]; !set {
		cfg = cfg.Clone()
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["wsrep_sync_wait"] = "1"
		if connector, err = gomysql.NewConnector(cfg); err != nil {
			return nil, err
		}
	}
	attempts := 1
	if cfg.Net == FailoverNetwork {
		attempts = len(strings.Split(cfg.Addr, ","))
	}
	s.opts.Logger.Info("the database is a MariaDB Galera cluster node", "wsrep_sync_wait", cfg.Params["wsrep_sync_wait"])
	return sql.OpenDB(&galeraConnector{Connector: connector, attempts: attempts}), nil
}

// galeraConnector connects only to nodes that take statements: a node that is joining accepts
// connections before it takes statements, and a node cut off from the cluster, or told to
// reject queries, refuses them (1047); a failover list then goes on to its next address.
type galeraConnector struct {
	driver.Connector
	attempts int
}

// readyQuery is 1 on a node that takes statements. It reads no table, so that a node that
// refuses statements still answers it.
const readyQuery = "SELECT @@GLOBAL.wsrep_reject_queries = 'NONE' AND " +
	"(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_READY') = 'ON'"

var errNodeNotReady = errors.New("the Galera node does not take statements (wsrep_ready is OFF, or wsrep_reject_queries is set)")

func (c *galeraConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var err error
	for i := 0; i < c.attempts; i++ {
		var conn driver.Conn
		if conn, err = c.Connector.Connect(ctx); err != nil {
			return nil, err
		}
		if err = nodeReady(ctx, conn); err == nil {
			return &galeraConn{Conn: conn}, nil
		}
		conn.Close()
	}
	return nil, unavailable{err}
}

func nodeReady(ctx context.Context, conn driver.Conn) error {
	rows, err := conn.(driver.QueryerContext).QueryContext(ctx, readyQuery, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	if err := rows.Next(v); err != nil {
		return err
	}
	if ready, ok := v[0].(int64); !ok || ready != 1 {
		return errNodeNotReady
	}
	return nil
}

// galeraConn retires itself once its node refuses a statement (1047): database/sql closes a
// connection that is no longer valid, and the pool's next connection may reach another node (or,
// behind a proxy, be routed to one).
type galeraConn struct {
	driver.Conn
	notReady atomic.Bool
}

func (c *galeraConn) check(err error) error {
	if isNotReady(err) {
		c.notReady.Store(true)
	}
	return err
}

func (c *galeraConn) IsValid() bool {
	return !c.notReady.Load() && c.Conn.(driver.Validator).IsValid()
}

func (c *galeraConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *galeraConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

func (c *galeraConn) Ping(ctx context.Context) error {
	return c.check(c.Conn.(driver.Pinger).Ping(ctx))
}

func (c *galeraConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	return tx, c.check(err)
}

func (c *galeraConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	return st, c.check(err)
}

func (c *galeraConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	return r, c.check(err)
}

func (c *galeraConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	return r, c.check(err)
}

// ClusterProblem is something about the database that regiond cannot vouch for on Galera.
// Fatal ones lose or corrupt data: the server refuses to start. The message names the setting.
type ClusterProblem struct {
	Fatal   bool
	Message string
}

// CheckCluster lists what does not hold on this Galera cluster (nothing on other databases):
// settings that break replication or regiond's guarantees, and tables Galera cannot replicate
// well. Tables other applications keep in the same database are only warned about.
func (s *Store) CheckCluster(ctx context.Context) ([]ClusterProblem, error) {
	if !s.galera {
		return nil, nil
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	db := s.w.WithContext(ctx)
	var v struct {
		SyncWait     int
		BinlogFormat string
		ClusterSize  string
	}
	err := db.Raw("SELECT @@SESSION.wsrep_sync_wait AS sync_wait, @@SESSION.binlog_format AS binlog_format, " +
		"(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE') AS cluster_size").
		Scan(&v).Error
	if err != nil {
		return nil, classify(err)
	}
	var out []ClusterProblem
	if v.SyncWait&1 == 0 {
		out = append(out, ClusterProblem{Message: fmt.Sprintf("wsrep_sync_wait=%d (set in the database DSN): a read through one Galera node may miss "+
			"writes another node acknowledged, so a replica may serve a region older than its last write or refuse a token just "+
			"minted through another replica; remove it from the DSN (regiond then sets wsrep_sync_wait=1) or set an odd value", v.SyncWait)})
	}
	if v.BinlogFormat != "ROW" {
		out = append(out, ClusterProblem{Fatal: true, Message: fmt.Sprintf("binlog_format=%s: Galera replicates row events only; "+
			"writes made with another format may not reach the other nodes. Set binlog_format=ROW", v.BinlogFormat)})
	}
	if n, _ := strconv.Atoi(v.ClusterSize); n == 1 {
		out = append(out, ClusterProblem{Message: "wsrep_cluster_size=1: this Galera node is alone in its cluster; " +
			"nothing is replicated and no other node can take over"})
	}
	var tables []struct {
		Name   string
		Engine string
		Keyed  bool
	}
	err = db.Raw(`SELECT t.TABLE_NAME AS name, COALESCE(t.ENGINE, '') AS engine,
		EXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA
			AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'PRIMARY KEY') AS keyed
		FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
		ORDER BY t.TABLE_NAME`).Scan(&tables).Error
	if err != nil {
		return nil, classify(err)
	}
	for _, t := range tables {
		ours := t.Name == "region_info" || strings.HasPrefix(t.Name, "regiond_")
		if !strings.EqualFold(t.Engine, "InnoDB") {
			out = append(out, ClusterProblem{Fatal: ours, Message: fmt.Sprintf("table %s has ENGINE=%s: Galera replicates InnoDB tables only, "+
				"its rows stay on the node that wrote them. ALTER TABLE %s ENGINE=InnoDB", t.Name, t.Engine, t.Name)})
		}
		if !t.Keyed {
			out = append(out, ClusterProblem{Message: fmt.Sprintf("table %s has no PRIMARY KEY: Galera does not support DELETE on it, "+
				"and its rows may come out in a different order on each node. Give it a primary key", t.Name)})
		}
	}
	return out, nil
}
