package app

import (
	"bytes"
	"sync"

	"github.com/google/uuid"

	"github.com/regiond/regiond/internal/region"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

func regionWithKey(cert, key string) region.Region {
	return region.Region{EnterpriseID: "e", RegionID: uuid.NewString(), RegionName: "rot", RegionAlias: "R",
		URL: "https://rot.example.com", Status: region.StatusEnabled, Scope: region.ScopePrivate, CertFile: &cert, KeyFile: &key}
}
