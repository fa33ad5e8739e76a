package transport

import (
	"sync"
	"testing"
)

// TestNewRequestIDs: ids cut from batches are 16 lowercase hex digits and never repeat, across
// batches and goroutines.
func TestNewRequestIDs(t *testing.T) {
	const goroutines, each = 8, 5 * idsPerBatch
	ids := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				ids[g] = append(ids[g], newRequestID())
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if len(id) != idLen || !saneRequestID(id) || seen[id] {
				t.Fatalf("id %q: malformed or repeated", id)
			}
			for _, c := range id {
				if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
					t.Fatalf("id %q is not lowercase hex", id)
				}
			}
			seen[id] = true
		}
	}
}
