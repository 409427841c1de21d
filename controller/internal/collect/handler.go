package collect

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// MetricsHandler serves /metrics in the Prometheus text format: what g gathers (the controller's
// own metrics), then the probe series. The probe series are written from their rendered text, not
// through the client library, which would build and sort hundreds of thousands of metric values
// per scrape.
func MetricsHandler(g prometheus.Gatherer, probes *ProbeSeries, log *slog.Logger) http.Handler {
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mfs, err := g.Gather()
		if err != nil {
			log.Error("gathering metrics", "err", err) // partial results are still served
		}
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return // the scraper went away
			}
		}
		if probes != nil {
			_ = probes.WriteText(w)
		}
	})
}
