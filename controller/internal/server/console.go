package server

import (
	"context"
	"fmt"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/console"
	"github.com/lookout-synthetics/lookout/controller/internal/store"
)

var (
	_ console.Backend   = (*api.Admin)(nil)
	_ console.Monitors  = (*store.Store)(nil)
	_ console.ResultLog = (*store.Store)(nil)
)

// consoleTail is how many of the newest stored results fill the console's index at start.
const consoleTail = 50000

// webConsole is the console and its listener, when --http-listen is given.
type webConsole struct {
	index *console.Index
	c     *console.Console
	srv   *console.Server
}

// consoleIndex opens the console's listener and fills its index from the stored results; nil
// (and no index) without --http-listen. Results stored from now on reach the index through notify.
func (s *Server) consoleIndex() (*console.Index, error) {
	if s.o.HTTPListen == "" {
		return nil, nil
	}
	idx := console.NewIndex(console.IndexOptions{})
	if err := idx.LoadTail(s.store, consoleTail); err != nil {
		return nil, err
	}
	s.web = &webConsole{index: idx}
	return idx, nil
}

// startConsole serves the console over the admin API.
func (s *Server) startConsole(ctx context.Context, admin *api.Admin, al *alertingParts) error {
	if s.web == nil {
		return nil
	}
	lo := console.ListenOptions{Addr: s.o.HTTPListen, CertFile: s.o.HTTPCertFile, KeyFile: s.o.HTTPKeyFile}
	srv, err := console.Listen(lo, nil)
	if err != nil {
		return err
	}
	s.web.srv = srv
	c, err := console.New(console.Options{Backend: admin, Monitors: s.store, Index: s.web.index,
		Tokens: consoleTokens{s.Auth}, Audit: consoleTokens{s.Auth}, Uptime: consoleUptime{s.Queries}, Secure: srv.TLS(), Logger: s.log,
		Alerts: consoleAlerts{al.engine, al.service}, Muter: consoleAlerts{al.engine, al.service}})
	if err != nil {
		return err
	}
	s.web.c = c
	srv.Handle(c)
	s.serveConsole(ctx, srv)
	s.log.Info("console ready", "url", srv.URL())
	return nil
}

// ConsoleURL is the web console's address; empty without --http-listen.
func (s *Server) ConsoleURL() string {
	if s.web == nil || s.web.srv == nil {
		return ""
	}
	return s.web.srv.URL()
}

func (w *webConsole) close() {
	if w == nil {
		return
	}
	if w.c != nil {
		w.c.Close()
	}
	if w.srv != nil {
		w.srv.Close()
	}
}

// serveConsole serves the console until Close; a failure stops the controller, as for the other
// listeners (console.Server runs its own Serve goroutine and reports a failure to a callback).
func (s *Server) serveConsole(ctx context.Context, srv *console.Server) {
	failed := make(chan error, 1)
	srv.Serve(func(err error) { failed <- err })
	s.serving.Go(func() error {
		select {
		case err := <-failed:
			return s.stoppedServing(fmt.Errorf("--http-listen %s: the web console stopped serving: %w", s.o.HTTPListen, err))
		case <-ctx.Done():
			return nil
		}
	})
}
