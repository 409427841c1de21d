package notify

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Secrets resolves a vault secret item's value by name.
type Secrets interface {
	Material(nameOrID string) (*pb.RunSecret, error)
}

// Outcome is what one delivery attempt came to.
type Outcome struct {
	StatusCode int
	Err        error         // nil: delivered
	Permanent  bool          // do not retry
	RetryAfter time.Duration // the receiver's Retry-After, if any
}

// Sender delivers one notification to one channel.
type Sender struct {
	HTTP    *http.Client
	Secrets Secrets
	// SMTPRootCAs, when set, replaces the system roots for SMTP servers (tests).
	SMTPRootCAs *x509.CertPool
	// PagerDutyURL is the Events API v2 endpoint when a channel names none.
	PagerDutyURL string
}

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Send makes one attempt.
func (s *Sender) Send(ctx context.Context, ch *pb.Channel, n *pb.Notification, at time.Time) Outcome {
	switch ch.Type {
	case pb.ChannelType_CHANNEL_TYPE_WEBHOOK:
		return s.webhook(ctx, ch, n, at)
	case pb.ChannelType_CHANNEL_TYPE_SLACK:
		return s.slack(ctx, ch, n)
	case pb.ChannelType_CHANNEL_TYPE_PAGERDUTY:
		return s.pagerduty(ctx, ch, n)
	case pb.ChannelType_CHANNEL_TYPE_EMAIL:
		return s.email(ctx, ch, n)
	}
	return Outcome{Err: fmt.Errorf("channel %q has no type", ch.Name), Permanent: true}
}

// secret returns a vault secret's value; its absence is a permanent failure the admin must fix.
func (s *Sender) secret(field, name string) (string, *Outcome) {
	m, err := s.Secrets.Material(name)
	if err != nil || m.GetSecret() == nil {
		return "", &Outcome{Err: fmt.Errorf("%s: vault secret %q is missing: add it with `lookout-controller vault add-secret %s`", field, name, name), Permanent: true}
	}
	return m.GetSecret().Value, nil
}

// post sends body and classifies the answer: 2xx delivered; 408, 429 and 5xx retried (honouring
// Retry-After); other statuses fail for good. The answer's body is read (capped) and dropped.
func (s *Sender) post(ctx context.Context, url string, body []byte, header http.Header) Outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Outcome{Err: errors.New("the channel's URL is not valid"), Permanent: true}
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lookout-notify/1")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return Outcome{Err: fmt.Errorf("sending: %w", scrubURL(err))}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	o := Outcome{StatusCode: resp.StatusCode}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return o
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		o.Err, o.RetryAfter = fmt.Errorf("receiver answered %s", resp.Status), retryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		o.Err, o.Permanent = fmt.Errorf("receiver answered %s (not retried)", resp.Status), true
	}
	return o
}

// scrubURL drops the URL from a client error: a Slack URL is itself a secret.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date; 0 when absent or bad.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
