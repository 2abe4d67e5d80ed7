package presets

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmbeddedPresetsAreDatedAndValid(t *testing.T) {
	names := Names()
	require.ElementsMatch(t, []string{"cloudflare", "gcp-lb", "private"}, names)
	for _, n := range names {
		p, err := Get(n)
		require.NoError(t, err, n)
		assert.Equal(t, n, p.Name)
		assert.NotEmpty(t, p.Source, n)
		assert.Regexp(t, `^\d{4}-\d{2}-\d{2}`, p.AsOf, n)
		assert.NotEmpty(t, p.CIDRs, n)
		for _, c := range p.CIDRs {
			assert.False(t, IsTrustAll(c), "%s contains %s", n, c)
		}
	}
	cf, _ := Get("cloudflare")
	assert.Contains(t, cf.CIDRs, "104.24.0.0/14")
	assert.Contains(t, cf.CIDRs, "2606:4700::/32")
	_, err := Get("nope")
	assert.ErrorContains(t, err, `unknown preset "nope"`)
}

func TestNormalizeCIDR(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{" 10.1.2.3 ", "10.1.2.3", ""},
		{"2001:DB8::/32", "2001:db8::/32", ""},
		{"10.0.0.1/8", "", "host bits set"},
		{"example.com", "", "not an IP address"},
		{"fe80::1%eth0", "", "zone"},
		{"", "", "empty"},
		{"10.0.0.0/33", "", "not an IP prefix"},
	} {
		got, err := NormalizeCIDR(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
}

const awsDoc = `{"syncToken":"1","createDate":"2026-11-01-00-00-00",
 "prefixes":[{"ip_prefix":"3.0.0.0/15","region":"us-east-1","service":"AMAZON"},
             {"ip_prefix":"13.32.0.0/15","region":"GLOBAL","service":"CLOUDFRONT"},
             {"ip_prefix":"13.32.0.0/15","region":"GLOBAL","service":"AMAZON"}],
 "ipv6_prefixes":[{"ipv6_prefix":"2600:9000::/28","region":"GLOBAL","service":"CLOUDFRONT"}]}`

func TestAWSIPRanges(t *testing.T) {
	got, date, err := ParseAWSIPRanges(strings.NewReader(awsDoc), AWSFilter{Services: []string{"cloudfront"}})
	require.NoError(t, err)
	assert.Equal(t, "2026-11-01-00-00-00", date)
	assert.Equal(t, []string{"13.32.0.0/15", "2600:9000::/28"}, got)

	got, _, err = ParseAWSIPRanges(strings.NewReader(awsDoc), AWSFilter{Regions: []string{"us-east-1"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"3.0.0.0/15"}, got)

	_, _, err = ParseAWSIPRanges(strings.NewReader(awsDoc), AWSFilter{Services: []string{"EC2"}})
	assert.ErrorContains(t, err, "no AWS prefixes match")
	_, _, err = ParseAWSIPRanges(strings.NewReader(`{"x":1}`), AWSFilter{})
	assert.ErrorContains(t, err, "no prefixes")
	_, _, err = ParseAWSIPRanges(strings.NewReader(`[`), AWSFilter{})
	assert.ErrorContains(t, err, "not an AWS ip-ranges.json")
}

func TestReadTrustedFrom(t *testing.T) {
	got, err := ReadTrustedFrom(strings.NewReader("# lb\n10.0.0.0/16, 10.1.0.0/16\n\n192.0.2.7 # one host\n"), "list.txt", AWSFilter{})
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.0/16", "10.1.0.0/16", "192.0.2.7"}, got)

	_, err = ReadTrustedFrom(strings.NewReader("10.0.0.0/16\nbogus\n"), "list.txt", AWSFilter{})
	assert.ErrorContains(t, err, "list.txt:2")

	_, err = ReadTrustedFrom(strings.NewReader("10.0.0.0/16\n"), "list.txt", AWSFilter{Services: []string{"EC2"}})
	assert.ErrorContains(t, err, "plain list")

	got, err = ReadTrustedFrom(strings.NewReader(awsDoc), "ip-ranges.json", AWSFilter{Services: []string{"CLOUDFRONT"}, Regions: []string{"GLOBAL"}})
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

func TestIsTrustAll(t *testing.T) {
	assert.True(t, IsTrustAll("0.0.0.0/0"))
	assert.True(t, IsTrustAll("::/0"))
	assert.False(t, IsTrustAll("10.0.0.0/8"))
	assert.False(t, IsTrustAll("garbage"))
}

func TestCovered(t *testing.T) {
	gfe := []string{"35.191.0.0/16", "130.211.0.0/22", "2600:2d00:1:b029::/64"}
	for _, tc := range []struct {
		entry string
		want  bool
	}{
		{"35.191.0.0/16", true},
		{"35.191.7.0/24", true},
		{"35.191.7.9", true},
		{"2600:2d00:1:b029::1", true},
		{"35.0.0.0/8", false}, // wider than any range
		{"203.0.113.10", false},
		{"130.211.4.0/22", false},
		{"not-an-ip", false},
	} {
		assert.Equal(t, tc.want, Covered(tc.entry, gfe), tc.entry)
	}
}
