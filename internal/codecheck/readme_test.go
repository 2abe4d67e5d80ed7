package codecheck

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/client-ip-guard/client-ip-guard/plugin/fastpath"
)

// TestReadmeNamesFastPathBlindSpots: the README's "Fast path" section
// renders fastpath.Blind in prose; each item's key phrase (its text before
// the first " (" or ":") must appear in the README, so that an item added
// to Blind or reworded there is not missing from the documentation.
func TestReadmeNamesFastPathBlindSpots(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := strings.ToLower(strings.Join(strings.Fields(string(b)), " "))
	require.NotEmpty(t, fastpath.Blind)
	for _, item := range fastpath.Blind {
		phrase := keyPhrase(item)
		require.NotEmpty(t, phrase, item)
		assert.Contains(t, readme, strings.ToLower(phrase), "README.md does not mention fastpath.Blind's %q", phrase)
	}
}

func keyPhrase(item string) string {
	end := len(item)
	for _, sep := range []string{" (", ":"} {
		if i := strings.Index(item, sep); i >= 0 && i < end {
			end = i
		}
	}
	return strings.TrimSpace(item[:end])
}

func TestKeyPhrase(t *testing.T) {
	assert.Equal(t, "header names spelled with '_' for '-'", keyPhrase("header names spelled with '_' for '-' (X_Forwarded_For): more"))
	assert.Equal(t, "the number of header lines", keyPhrase("the number of header lines: a request (with) more"))
	assert.Equal(t, "plain", keyPhrase("plain"))
}
