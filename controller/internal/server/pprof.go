package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves Go's /debug/pprof/ on its own listener when --pprof-listen is given. It is off
// by default and has no authentication: bind it to loopback.
func (s *Server) startPprof(ctx context.Context) error {
	if s.o.PprofListen == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	lis, err := net.Listen("tcp", s.o.PprofListen)
	if err != nil {
		return fmt.Errorf("--pprof-listen %s: %w", s.o.PprofListen, err)
	}
	s.pprofLis = lis
	s.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.serve(ctx, "--pprof-listen", lis, func() error { return s.pprofSrv.Serve(lis) })
	s.log.Info("pprof ready", "addr", lis.Addr().String())
	return nil
}
