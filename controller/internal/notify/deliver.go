package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lookout-synthetics/lookout/controller/internal/store"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Retry policy: the wait after the k-th failed attempt is min(base·2^(k-1), maxBackoff), or the
// receiver's Retry-After (at most maxRetryAfter); after maxAttempts a notification fails for good.
const (
	baseBackoff   = time.Second
	maxBackoff    = 5 * time.Minute
	maxRetryAfter = time.Hour
	maxAttempts   = 20
	sendTimeout   = 10 * time.Second
)

// Outbox is the part of the store the Deliverer uses: the notifications waiting in the alerting
// tables, and the channels they go to.
type Outbox interface {
	ViewAlerting(fn func(store.AlertTx) error) error
	UpdateAlerting(fn func(store.AlertTx) error) error
	Channel(name string) (*pb.Channel, error)
}

var _ Outbox = (*store.Store)(nil)

// Options configure a Deliverer.
type Options struct {
	Store   Outbox
	Sender  *Sender
	Logger  *slog.Logger
	Metrics *Metrics // optional
	Now     func() time.Time
	// Backoff, when set, replaces the exponential backoff (tests).
	Backoff func(attempt int) time.Duration
}

// Deliverer runs one worker per channel that has pending notifications, so a slow or dead
// receiver only delays its own channel.
type Deliverer struct {
	o       Options
	wake    chan struct{}
	mu      sync.Mutex
	workers map[string]*worker
	wg      sync.WaitGroup
}

// NewDeliverer returns a Deliverer; Run starts it.
func NewDeliverer(o Options) *Deliverer {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Backoff == nil {
		o.Backoff = backoff
	}
	return &Deliverer{o: o, wake: make(chan struct{}, 1), workers: map[string]*worker{}}
}

func backoff(attempt int) time.Duration {
	d := baseBackoff << min(attempt-1, 20)
	return min(d, maxBackoff)
}

// Wake tells the Deliverer that new notifications are durable. It never blocks.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for its workers. Pending notifications left by an
// earlier process (a crash before delivery) are picked up at once.
func (d *Deliverer) Run(ctx context.Context) {
	defer d.wg.Wait()
	d.Wake()
	// A wake-up is a hint; the outbox is the record. A periodic look catches anything a missed
	// hint would leave waiting.
	sweep := time.NewTicker(5 * time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-sweep.C:
		}
		d.route(ctx)
	}
}

// route hands each channel with pending notifications to its worker, starting it if needed.
func (d *Deliverer) route(ctx context.Context) {
	channels := map[string]bool{}
	err := d.o.Store.ViewAlerting(func(tx store.AlertTx) error {
		return tx.Pending(func(n *pb.Notification) error { channels[n.Channel] = true; return nil })
	})
	if err != nil {
		d.o.Logger.Error("reading the outbox", "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range channels {
		w := d.workers[ch]
		if w == nil {
			w = &worker{d: d, channel: ch, wake: make(chan struct{}, 1)}
			d.workers[ch] = w
			d.wg.Add(1)
			go func() { defer d.wg.Done(); w.run(ctx) }()
		}
		w.poke()
	}
}

type worker struct {
	d       *Deliverer
	channel string
	wake    chan struct{}
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run delivers the channel's due notifications in order, then sleeps until the next is due or it
// is poked.
func (w *worker) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := w.deliverDue(ctx)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(w.d.o.Now()), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// deliverDue makes one attempt for each due notification of the channel and returns when the
// next one not yet due is (zero: none).
func (w *worker) deliverDue(ctx context.Context) time.Time {
	var due []*pb.Notification
	var next time.Time
	now := w.d.o.Now()
	err := w.d.o.Store.ViewAlerting(func(tx store.AlertTx) error {
		return tx.Pending(func(n *pb.Notification) error {
			if n.Channel != w.channel {
				return nil
			}
			if at := n.NextAttemptAt.AsTime(); at.After(now) {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				return nil
			}
			due = append(due, n)
			return nil
		})
	})
	if err != nil {
		w.d.o.Logger.Error("reading the outbox", "channel", w.channel, "err", err)
		return now.Add(time.Second)
	}
	for _, n := range due {
		if ctx.Err() != nil {
			return time.Time{}
		}
		if at := w.attempt(ctx, n); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// attempt delivers n once and records the attempt; it returns when n is due again (zero: done).
func (w *worker) attempt(ctx context.Context, n *pb.Notification) time.Time {
	ch, err := w.d.o.Store.Channel(n.Channel)
	var out Outcome
	start := w.d.o.Now()
	if err != nil {
		out = Outcome{Err: errors.New("channel no longer exists"), Permanent: true}
	} else {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		out = w.d.o.Sender.Send(sctx, ch, n, start)
		cancel()
	}
	if ctx.Err() != nil && out.Err != nil {
		return time.Time{} // shutting down: the attempt did not count; the next start retries
	}
	return w.record(n, out, start, w.d.o.Now())
}

// record stores the attempt on the notification: delivered, failed for good, or due again.
func (w *worker) record(n *pb.Notification, out Outcome, start, end time.Time) time.Time {
	next := w.apply(n, out, start, end)
	err := w.d.o.Store.UpdateAlerting(func(tx store.AlertTx) error { return tx.PutNotification(n) })
	if err != nil {
		w.d.o.Logger.Error("recording a delivery attempt", "notification", n.Id, "err", err)
	}
	w.d.o.Metrics.observe(n, out, end)
	if out.Err != nil {
		w.d.o.Logger.Warn("notification not delivered", "channel", n.Channel, "notification", n.Id, "type", n.Event.GetType(),
			"attempt", len(n.Attempts), "status", out.StatusCode, "err", out.Err, "final", next.IsZero())
	}
	return next
}

// apply adds the attempt to n and moves its state; it returns when n is due again (zero: never).
func (w *worker) apply(n *pb.Notification, out Outcome, start, end time.Time) time.Time {
	a := &pb.DeliveryAttempt{At: timestamppb.New(start), Took: durationpb.New(end.Sub(start)), StatusCode: int32(out.StatusCode)}
	n.Attempts = append(n.Attempts, a)
	if out.Err == nil {
		n.State, n.DeliveredAt, n.NextAttemptAt = pb.NotificationState_NOTIFICATION_STATE_DELIVERED, timestamppb.New(end), nil
		return time.Time{}
	}
	a.Error = out.Err.Error()
	if out.Permanent || len(n.Attempts) >= maxAttempts {
		n.State, n.NextAttemptAt = pb.NotificationState_NOTIFICATION_STATE_FAILED, nil
		return time.Time{}
	}
	wait := w.d.o.Backoff(len(n.Attempts))
	if out.RetryAfter > 0 {
		wait = min(out.RetryAfter, maxRetryAfter)
	}
	next := end.Add(wait)
	n.NextAttemptAt = timestamppb.New(next)
	return next
}
