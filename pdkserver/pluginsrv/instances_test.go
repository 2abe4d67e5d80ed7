package pluginsrv

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigChange: a changed configuration starts a new instance first,
// then closes the old one; the same configuration under a new *Entity
// keeps the instance.
func TestConfigChange(t *testing.T) {
	s, _ := startPlugin(t, "pdkprobe")
	run := func(e *Entity) string {
		req := newReq()
		require.NoError(t, s.HandleEvent(ctx5s(t), e, "access", req))
		got := probeResults(t, req)
		require.Len(t, got, 1)
		return got[0]
	}
	v1 := &Entity{ID: "p1", Config: map[string]any{"access_ops": "tag", "tag": "one"}}
	assert.Equal(t, "one", run(v1))
	assert.Equal(t, "one", run(v1))
	assert.EqualValues(t, 1, s.Stats().InstanceStarts)

	same := &Entity{ID: "p1", Config: map[string]any{"access_ops": "tag", "tag": "one"}}
	assert.Equal(t, "one", run(same))
	assert.EqualValues(t, 1, s.Stats().InstanceStarts, "same config, new pointer: no new instance")

	v2 := &Entity{ID: "p1", Config: map[string]any{"access_ops": "tag", "tag": "two"}}
	assert.Equal(t, "two", run(v2))
	st := s.Stats()
	assert.EqualValues(t, 2, st.InstanceStarts)
	assert.EqualValues(t, 1, st.InstanceCloses)
	assert.EqualValues(t, 0, st.Retries)
}

// TestConcurrentFirstEvents: many first events for one entity start one
// instance; the others wait for it.
func TestConcurrentFirstEvents(t *testing.T) {
	s, _ := startPlugin(t, "noop")
	e := &Entity{ID: "c1"}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.HandleEvent(ctx5s(t), e, "access", newReq())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, s.Stats().InstanceStarts)
	assert.EqualValues(t, 32, s.Stats().Events)
}

func TestWithSeq(t *testing.T) {
	assert.Equal(t, `{"__seq__":7}`, string(withSeq([]byte(`{}`), 7)))
	assert.Equal(t, `{"a":1,"__seq__":7}`, string(withSeq([]byte(`{"a":1}`), 7)))
}
