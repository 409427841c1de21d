package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Metrics count delivery attempts and time deliveries.
type Metrics struct {
	total    *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewMetrics makes the collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lookout_notifications_total",
			Help: "Notification delivery attempts by channel, event type and outcome (delivered, retry, failed)."},
			[]string{"channel", "type", "outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lookout_notification_delivery_seconds",
			Help:    "From the state change that queued a notification being stored to its delivery.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16)}),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.total, m.duration}
}

func (m *Metrics) observe(n *pb.Notification, out Outcome, end time.Time) {
	if m == nil {
		return
	}
	outcome := "delivered"
	switch {
	case n.State == pb.NotificationState_NOTIFICATION_STATE_FAILED:
		outcome = "failed"
	case out.Err != nil:
		outcome = "retry"
	}
	m.total.WithLabelValues(n.Channel, n.Event.GetType(), outcome).Inc()
	if outcome == "delivered" && n.StateStoredAt != nil {
		m.duration.Observe(end.Sub(n.StateStoredAt.AsTime()).Seconds())
	}
}
