package report

import (
	"container/heap"
	"sort"
)

// TopK counts the most frequent keys of a stream in bounded memory with
// the Space-Saving algorithm (Metwally, Agrawal, El Abbadi, 2005): it
// holds at most Cap keys; a new key, when full, replaces the least
// counted one and inherits its count as an error bound. Every key seen
// more than N/Cap times is kept, and a kept key's Count overestimates its
// true count by at most Err.
type TopK struct {
	cap   int
	index map[string]*tkEntry
	h     tkHeap
}

type tkEntry struct {
	key   string
	count int64
	err   int64
	pos   int
}

type tkHeap []*tkEntry

func (h tkHeap) Len() int           { return len(h) }
func (h tkHeap) Less(i, j int) bool { return h[i].count < h[j].count }
func (h tkHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].pos = i; h[j].pos = j }
func (h *tkHeap) Push(x any)        { e := x.(*tkEntry); e.pos = len(*h); *h = append(*h, e) }
func (h *tkHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// NewTopK returns a TopK holding at most capacity keys (at least 1).
func NewTopK(capacity int) *TopK {
	if capacity < 1 {
		capacity = 1
	}
	return &TopK{cap: capacity, index: make(map[string]*tkEntry, capacity)}
}

// Add counts one occurrence of key.
func (t *TopK) Add(key string) {
	if e, ok := t.index[key]; ok {
		e.count++
		heap.Fix(&t.h, e.pos)
		return
	}
	if len(t.h) < t.cap {
		e := &tkEntry{key: key, count: 1}
		t.index[key] = e
		heap.Push(&t.h, e)
		return
	}
	// Replace the least counted key; the newcomer inherits its count.
	e := t.h[0]
	delete(t.index, e.key)
	e.key, e.err = key, e.count
	e.count++
	t.index[key] = e
	heap.Fix(&t.h, 0)
}

// Len is how many keys are held (never more than the capacity).
func (t *TopK) Len() int { return len(t.h) }

// Count is one key of a TopK with its count and error bound.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	// Err bounds the overcount: the true count is in [Count-Err, Count].
	Err int64 `json:"error,omitempty"`
}

// Top returns the n most counted keys, highest first (ties by key).
func (t *TopK) Top(n int) []Count {
	out := make([]Count, 0, len(t.h))
	for _, e := range t.h {
		out = append(out, Count{Key: e.key, Count: e.count, Err: e.err})
	}
	sortCounts(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func sortCounts(cs []Count) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Count != cs[j].Count {
			return cs[i].Count > cs[j].Count
		}
		return cs[i].Key < cs[j].Key
	})
}

// Capped counts keys exactly up to a number of distinct keys; later new
// keys are counted together under Other. It suits keys that are few in
// practice (verdicts, routes) but come from input that may be hostile.
type Capped struct {
	cap   int
	m     map[string]int64
	Other int64
}

// NewCapped returns a Capped holding at most capacity keys.
func NewCapped(capacity int) *Capped { return &Capped{cap: capacity, m: map[string]int64{}} }

// Add counts one occurrence of key and reports whether key has its own
// entry (false: counted under Other).
func (c *Capped) Add(key string) bool {
	if _, ok := c.m[key]; ok || len(c.m) < c.cap {
		c.m[key]++
		return true
	}
	c.Other++
	return false
}

// Has reports whether key has its own entry.
func (c *Capped) Has(key string) bool { _, ok := c.m[key]; return ok }

// Get returns key's count.
func (c *Capped) Get(key string) int64 { return c.m[key] }

// Len is how many keys have their own entry.
func (c *Capped) Len() int { return len(c.m) }

// Map returns the counts, with Other under "(other)" when non-zero.
func (c *Capped) Map() map[string]int64 {
	out := make(map[string]int64, len(c.m)+1)
	for k, v := range c.m {
		out[k] = v
	}
	if c.Other > 0 {
		out[OtherKey] = c.Other
	}
	return out
}

// Sorted returns the counts highest first, Other last.
func (c *Capped) Sorted() []Count {
	out := make([]Count, 0, len(c.m)+1)
	for k, v := range c.m {
		out = append(out, Count{Key: k, Count: v})
	}
	sortCounts(out)
	if c.Other > 0 {
		out = append(out, Count{Key: OtherKey, Count: c.Other})
	}
	return out
}

// OtherKey names what a Capped counts past its capacity.
const OtherKey = "(other)"
