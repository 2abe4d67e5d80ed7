// Package presets holds dated, embedded lists of address ranges that kongconf
// can trust (private space, Cloudflare, Google Cloud load balancers), plus
// readers for externally supplied lists such as AWS ip-ranges.json.
package presets

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"path"
	"sort"
	"strings"
)

//go:embed data/*.txt
var dataFS embed.FS

// Preset is one named, dated list of prefixes with the place it came from.
type Preset struct {
	// Name is the identifier used on the command line and in topology files.
	Name string
	// Description says what the ranges are and when to trust them.
	Description string
	// Source lists the URLs the ranges were taken from.
	Source string
	// AsOf is the date the list was last checked against Source.
	AsOf string
	// CIDRs are the prefixes, in canonical form, in file order.
	CIDRs []string
}

// Names returns the names of all embedded presets, sorted.
func Names() []string {
	entries, err := dataFS.ReadDir("data")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".txt"))
	}
	sort.Strings(out)
	return out
}

// Get returns the embedded preset called name.
func Get(name string) (Preset, error) {
	b, err := dataFS.ReadFile(path.Join("data", name+".txt"))
	if err != nil {
		return Preset{}, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	p, err := parseListWithHeader(bytes.NewReader(b), name)
	if err != nil {
		return Preset{}, err
	}
	if p.Name == "" {
		p.Name = name
	}
	return p, nil
}

func parseListWithHeader(r io.Reader, name string) (Preset, error) {
	var p Preset
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "#") {
			k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(t, "#")), ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.TrimSpace(k) {
			case "name":
				p.Name = v
			case "description":
				p.Description = v
			case "source":
				p.Source = v
			case "as-of":
				p.AsOf = v
			}
			continue
		}
		c, err := NormalizeCIDR(t)
		if err != nil {
			return Preset{}, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		p.CIDRs = append(p.CIDRs, c)
	}
	if err := sc.Err(); err != nil {
		return Preset{}, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// NormalizeCIDR accepts an IP address or a CIDR prefix and returns it in the
// form Kong's trusted_ips accepts: a bare address stays bare, a prefix is
// printed canonically. Prefixes with host bits set are rejected because nginx
// warns about them and the intent is ambiguous.
func NormalizeCIDR(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty address")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", fmt.Errorf("%q is not an IP prefix: %v", s, err)
		}
		if p.Masked() != p {
			return "", fmt.Errorf("%q has host bits set; did you mean %s?", s, p.Masked())
		}
		return p.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	if a.Zone() != "" {
		return "", fmt.Errorf("%q carries an IPv6 zone, which trusted_ips cannot express", s)
	}
	return a.String(), nil
}

// ParsePlainList reads one address or prefix per line (blank lines and
// '#' comments ignored; commas and whitespace also separate entries).
func ParsePlainList(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = t[:i]
		}
		for _, f := range strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			c, err := NormalizeCIDR(f)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line, err)
			}
			out = append(out, c)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// AWSFilter selects entries from AWS ip-ranges.json. Empty fields match all.
type AWSFilter struct {
	// Services are matched case-insensitively against "service" (e.g. CLOUDFRONT, EC2).
	Services []string
	// Regions are matched case-insensitively against "region" (e.g. us-east-1, GLOBAL).
	Regions []string
}

type awsRanges struct {
	SyncToken  string `json:"syncToken"`
	CreateDate string `json:"createDate"`
	Prefixes   []struct {
		IPPrefix string `json:"ip_prefix"`
		Region   string `json:"region"`
		Service  string `json:"service"`
	} `json:"prefixes"`
	IPv6Prefixes []struct {
		IPv6Prefix string `json:"ipv6_prefix"`
		Region     string `json:"region"`
		Service    string `json:"service"`
	} `json:"ipv6_prefixes"`
}

// ParseAWSIPRanges reads the AWS ip-ranges.json document and returns the
// de-duplicated prefixes that match f, plus the document's createDate.
// The file is published at https://ip-ranges.amazonaws.com/ip-ranges.json.
func ParseAWSIPRanges(r io.Reader, f AWSFilter) (cidrs []string, createDate string, err error) {
	var doc awsRanges
	dec := json.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil {
		return nil, "", fmt.Errorf("not an AWS ip-ranges.json document: %w", err)
	}
	if len(doc.Prefixes) == 0 && len(doc.IPv6Prefixes) == 0 {
		return nil, "", fmt.Errorf("AWS ip-ranges document has no prefixes or ipv6_prefixes")
	}
	match := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if strings.EqualFold(x, v) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	add := func(p string) error {
		c, err := NormalizeCIDR(p)
		if err != nil {
			return err
		}
		if !seen[c] {
			seen[c] = true
			cidrs = append(cidrs, c)
		}
		return nil
	}
	for _, p := range doc.Prefixes {
		if match(f.Services, p.Service) && match(f.Regions, p.Region) {
			if err := add(p.IPPrefix); err != nil {
				return nil, "", err
			}
		}
	}
	for _, p := range doc.IPv6Prefixes {
		if match(f.Services, p.Service) && match(f.Regions, p.Region) {
			if err := add(p.IPv6Prefix); err != nil {
				return nil, "", err
			}
		}
	}
	if len(cidrs) == 0 {
		return nil, doc.CreateDate, fmt.Errorf("no AWS prefixes match services=%v regions=%v", f.Services, f.Regions)
	}
	return cidrs, doc.CreateDate, nil
}

// ReadTrustedFrom reads a list of trusted ranges from r: an AWS
// ip-ranges.json document when it starts with '{' (filtered by f), otherwise a
// plain list.
func ReadTrustedFrom(r io.Reader, name string, f AWSFilter) ([]string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		c, _, err := ParseAWSIPRanges(bytes.NewReader(t), f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return c, nil
	}
	if len(f.Services) > 0 || len(f.Regions) > 0 {
		return nil, fmt.Errorf("%s: service/region filters apply only to AWS ip-ranges.json, but this is a plain list", name)
	}
	return ParsePlainList(bytes.NewReader(b), name)
}

// IsTrustAll reports whether cidr covers a whole address family (0.0.0.0/0 or ::/0).
func IsTrustAll(cidr string) bool {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	return err == nil && p.Bits() == 0
}

// Covered reports whether the address or prefix entry lies wholly inside one
// of ranges. Entries that do not parse are not covered.
func Covered(entry string, ranges []string) bool {
	e, err := netip.ParsePrefix(strings.TrimSpace(entry))
	if err != nil {
		a, aerr := netip.ParseAddr(strings.TrimSpace(entry))
		if aerr != nil {
			return false
		}
		e = netip.PrefixFrom(a, a.BitLen())
	}
	for _, r := range ranges {
		p, err := netip.ParsePrefix(r)
		if err == nil && p.Bits() <= e.Bits() && p.Contains(e.Addr()) {
			return true
		}
	}
	return false
}
