package devenv

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/channelfile"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// The demo API's /flaky endpoint fails for flakyFor, flakyAfter after the start, so the demo shows
// an alert opening and resolving.
const (
	flakyAfter = 30 * time.Second
	flakyFor   = 40 * time.Second
)

func flaky(start time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if since := time.Since(start); since >= flakyAfter && since < flakyAfter+flakyFor {
			http.Error(w, `{"error":"checkout is down for the demo"}`, http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, map[string]string{"status": "ok"})
	}
}

// receiver is the demo's webhook receiver on loopback: it verifies each signature as a Standard
// Webhooks consumer does and prints the notification.
type receiver struct {
	key []byte
	say func(format string, a ...any)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return
	}
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, r.key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	verified := hmac.Equal([]byte(req.Header.Get("webhook-signature")), []byte("v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil))))
	var ev struct{ Type, Monitor, Message string }
	_ = json.Unmarshal(body, &ev)
	r.say("[webhook %s] %s %s (signature verified: %v) %s", clean(id), clean(ev.Type), clean(ev.Monitor), verified, clean(ev.Message))
	if !verified {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// clean keeps what a monitored API wrote from driving the terminal.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// startReceiver serves the receiver on a loopback port and returns its URL.
func (d *dev) startReceiver(key []byte) (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: &receiver{key: key, say: d.say}, ReadHeaderTimeout: 5 * time.Second, ErrorLog: d.httpLog}
	go func() { _ = srv.Serve(lis) }()
	d.cleanFn = append(d.cleanFn, func() { _ = srv.Close() })
	return "http://" + lis.Addr().String() + "/hook", nil
}

// applyChannels applies the example channels (examples/channels/*.yaml), each webhook pointed at
// the demo receiver, with its signing secret made and stored in the vault.
func (d *dev) applyChannels(ctx context.Context, admin pb.AdminServiceClient, alerts pb.AlertServiceClient) error {
	files, _ := filepath.Glob(filepath.Join(d.o.examples, "channels", "*.yaml"))
	sort.Strings(files)
	if len(files) == 0 {
		return nil
	}
	key := make([]byte, 32)
	rand.Read(key) // never returns an error (Go 1.24+)
	url, err := d.startReceiver(key)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := d.applyChannel(ctx, admin, alerts, f, url, key); err != nil {
			return fmt.Errorf("applying %s: %w", f, err)
		}
	}
	return nil
}

func (d *dev) applyChannel(ctx context.Context, admin pb.AdminServiceClient, alerts pb.AlertServiceClient, file, url string, key []byte) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	c, err := channelfile.Parse(src)
	if err != nil {
		return err
	}
	if c.Type != pb.ChannelType_CHANNEL_TYPE_WEBHOOK {
		return nil // the demo can only deliver webhooks locally
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	if _, err := admin.AddSecret(ctx, &pb.AddSecretRequest{Name: c.SigningSecret, Value: secret}); err != nil {
		return err
	}
	out := fmt.Sprintf("name: %s\ntype: webhook\nurl: %s\nsigning_secret: %s\n", c.Name, url, c.SigningSecret)
	if _, err := alerts.ApplyChannel(ctx, &pb.ApplyChannelRequest{Source: []byte(out), Filename: file}); err != nil {
		return err
	}
	d.say("channel %s from %s → the demo's webhook receiver at %s", c.Name, file, url)
	return nil
}
