package probe

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// DenyList holds the address ranges a probe never connects to. It is checked on each address
// the url's host resolved to, at connect time, so a name that resolves to a denied address is
// refused too.
type DenyList []netip.Prefix

// DefaultDenyList returns link-local (the cloud metadata address 169.254.169.254 among them),
// loopback and the unspecified addresses, which reach this host as loopback does.
func DefaultDenyList() DenyList {
	return DenyList{
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("0.0.0.0/32"),
		netip.MustParsePrefix("::/128"),
	}
}

// ParseDenyList parses a comma-separated list of CIDRs or addresses, or "none", which allows
// every address (an empty, non-nil list).
func ParseDenyList(s string) (DenyList, error) {
	if strings.TrimSpace(s) == "none" {
		return DenyList{}, nil
	}
	var d DenyList
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		p, err := netip.ParsePrefix(item)
		if err != nil {
			addr, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an IP address (use none to allow every address)", item)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		d = append(d, p.Masked())
	}
	return d, nil
}

// match returns the range that denies addr. An IPv4-mapped IPv6 address is its IPv4 address, and
// a zone is dropped (netip.Prefix.Contains never matches a zoned address).
func (d DenyList) match(addr netip.Addr) (netip.Prefix, bool) {
	addr = addr.Unmap().WithZone("")
	for _, p := range d {
		if p.Contains(addr) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// deniedError is the refusal of an address in the deny list.
type deniedError struct {
	addr  string
	match netip.Prefix
}

func (e *deniedError) Error() string {
	return fmt.Sprintf("%s is in the probe deny list (%s)", e.addr, e.match)
}

// control is a net.Dialer Control hook: it runs after name resolution, before each connect.
func (d DenyList) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address we cannot read is not one we can vouch for.
		return &deniedError{addr: address}
	}
	if p, denied := d.match(ap.Addr()); denied {
		return &deniedError{addr: address, match: p}
	}
	return nil
}
