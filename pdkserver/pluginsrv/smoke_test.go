package pluginsrv

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSmokeTrivial(t *testing.T) {
	s, _ := startPlugin(t, "trivial")
	require.Equal(t, "trivial", s.Info().Name)
	require.Equal(t, []string{"access"}, s.Info().Phases)
	req := newReq()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.HandleEvent(ctx, ent("e1", nil), "access", req))
	require.Equal(t, []string{"kong.client.get_ip", "kong.client.get_forwarded_ip", "kong.request.get_header"}, req.Calls["access"])
}
