package probe

import (
	"net/netip"
	"testing"
)

func TestDefaultDenyList(t *testing.T) {
	t.Parallel()
	d := DefaultDenyList()
	for addr, denied := range map[string]bool{
		"127.0.0.1":        true,
		"127.9.9.9":        true,
		"::1":              true,
		"169.254.169.254":  true, // the cloud metadata address
		"fe80::1":          true,
		"fe80::1%eth0":     true,
		"::ffff:127.0.0.1": true, // IPv4-mapped loopback is loopback
		"0.0.0.0":          true, // connecting to the unspecified address reaches this host
		"::":               true,
		"10.0.0.1":         false,
		"192.168.1.10":     false,
		"8.8.8.8":          false,
		"2001:db8::1":      false,
	} {
		if _, got := d.match(netip.MustParseAddr(addr)); got != denied {
			t.Errorf("%s denied = %v, want %v", addr, got, denied)
		}
	}
}

func TestParseDenyList(t *testing.T) {
	t.Parallel()
	none, err := ParseDenyList(" none ")
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf(`ParseDenyList("none") = %#v, %v; want an empty, non-nil list`, none, err)
	}
	d, err := ParseDenyList("10.0.0.0/8, 192.0.2.7 ,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for addr, denied := range map[string]bool{"10.1.2.3": true, "192.0.2.7": true, "192.0.2.8": false, "fd12::1": true, "127.0.0.1": false} {
		if _, got := d.match(netip.MustParseAddr(addr)); got != denied {
			t.Errorf("%s denied = %v, want %v", addr, got, denied)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "localhost", "10.0.0.0/8,,", "none,10.0.0.0/8"} {
		if _, err := ParseDenyList(bad); err == nil {
			t.Errorf("ParseDenyList(%q) accepted", bad)
		}
	}
}
