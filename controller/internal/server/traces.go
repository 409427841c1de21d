package server

import (
	"context"

	"github.com/lookout-synthetics/lookout/controller/internal/collect"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// traceExport is where results go as traces.
type traceExport interface {
	Export(*pb.RunResult)
	Shutdown(context.Context) error
}

var _ traceExport = (*collect.TraceExporter)(nil)

type noTraces struct{}

func (noTraces) Export(*pb.RunResult)           {}
func (noTraces) Shutdown(context.Context) error { return nil }

// startTraces starts the OTLP export of results when --otlp-endpoint is set.
func (s *Server) startTraces(ctx context.Context, m *metrics) error {
	if s.o.OTLPEndpoint == "" {
		s.traces = noTraces{}
		return nil
	}
	exp, err := collect.NewTraceExporter(ctx, collect.TraceOptions{Endpoint: s.o.OTLPEndpoint, Insecure: s.o.OTLPInsecure, Logger: s.log})
	if err != nil {
		return err
	}
	s.traces = exp
	m.extra = append(m.extra, exp.Collectors()...)
	s.log.Info("exporting results as OTLP traces", "endpoint", s.o.OTLPEndpoint, "insecure", s.o.OTLPInsecure)
	return nil
}
