package iprange

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// sortInputs are IPv4 and IPv6 ranges in the shapes sort4 and sort6
// meet: random across the space, clustered in one /16 or /32, with
// duplicate first addresses, all equal; sized around radixMin and the
// radix sort's small-bucket cut.
func sortInputs(n int, seed uint64) map[string][]range6 {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	out := map[string][]range6{}
	gen := func(name string, first func(i int) u128) {
		v := make([]range6, n)
		for i := range v {
			f := first(i)
			v[i] = range6{f, u128{f.hi, f.lo | rng.Uint64N(1<<8)}}
		}
		out[name] = v
	}
	gen("random", func(int) u128 { return u128{rng.Uint64(), rng.Uint64()} })
	gen("clustered", func(int) u128 { return u128{0x20010db8<<32 | rng.Uint64N(1<<8), rng.Uint64N(1 << 12)} })
	gen("duplicates", func(int) u128 { return u128{rng.Uint64N(4) << 62, rng.Uint64N(8)} })
	gen("equal", func(int) u128 { return u128{7, 7} })
	gen("descending", func(i int) u128 { return u128{uint64(n - i), uint64(i)} })
	return out
}

func TestSortRadix(t *testing.T) {
	for _, n := range []int{1, 2, insertionMax + 1, radixMin - 1, radixMin, radixMin + 1, 5000, 70_000} {
		for name, in := range sortInputs(n, 1) {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				v6 := slices.Clone(in)
				sort6(v6)
				require.True(t, slices.IsSortedFunc(v6, func(x, y range6) int { return x.first.cmp(y.first) }))
				require.Equal(t, canon6(in), canon6(v6), "the same ranges")

				// The IPv4 form: the top 32 bits of hi as the first address.
				v4 := make([]uint64, len(in))
				for i, r := range in {
					v4[i] = r.first.hi&^(1<<32-1) | uint64(uint32(r.last.lo))
				}
				want := slices.Clone(v4)
				sort4(v4)
				require.True(t, slices.IsSortedFunc(v4, func(x, y uint64) int { return int(x>>32) - int(y>>32) }))
				require.Equal(t, slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(v4)), "the same ranges")
			})
		}
	}
}

// canon6 is v in a total order, to compare multisets.
func canon6(v []range6) []range6 {
	return slices.SortedFunc(slices.Values(v), func(x, y range6) int {
		if c := x.first.cmp(y.first); c != 0 {
			return c
		}
		return x.last.cmp(y.last)
	})
}
