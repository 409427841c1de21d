package dispatcher_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// BenchmarkQuietSweep is the sweep the controller makes every second when nothing is due: 1,000
// open runs on 10 checkpoints, each with a live instance. online=0 turns off the liveness checks
// (hand-over and the ending of stranded runs), for comparison.
func BenchmarkQuietSweep(b *testing.B) {
	for _, window := range []time.Duration{0, 30 * time.Second} {
		b.Run(fmt.Sprintf("online=%v", window), func(b *testing.B) {
			st, err := store.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			opts := natsserver.DefaultTestOptions
			opts.Port = -1
			ns := natsserver.RunServer(&opts)
			b.Cleanup(ns.Shutdown)
			nc, err := nats.Connect(ns.ClientURL())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			d := dispatcher.New(dispatcher.Options{Store: st, Bus: nc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnlineWindow: window})
			for i := range 10 {
				cp, err := st.EnsureCheckpoint(fmt.Sprint("site-", i), pb.CheckpointKind_CHECKPOINT_KIND_PRIVATE)
				if err != nil {
					b.Fatal(err)
				}
				token := strings.Repeat("t", 32) + cp.Name
				if err := st.CreateToken(token, cp.Id, time.Hour); err != nil {
					b.Fatal(err)
				}
				if _, err := st.RedeemToken(token, store.Agent{ID: "ag_" + cp.Name}); err != nil {
					b.Fatal(err)
				}
				if _, err := st.TouchAgent("ag_"+cp.Name, "test", 0, 0); err != nil {
					b.Fatal(err)
				}
				m, _, _, err := st.PutMonitor(&pb.Monitor{Name: cp.Name, Timeout: durationpb.New(time.Hour), Checkpoints: []string{cp.Name},
					Steps: []*pb.Step{{Name: "get", Request: &pb.HttpRequest{Method: "GET", Url: "https://127.0.0.1:8443/"}}}})
				if err != nil {
					b.Fatal(err)
				}
				for range 100 {
					if _, err := d.Dispatch(m, nil, true); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			for b.Loop() {
				if err := d.SweepExpired(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
