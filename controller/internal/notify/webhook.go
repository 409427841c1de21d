package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

func (s *Sender) webhook(ctx context.Context, ch *pb.Channel, n *pb.Notification, at time.Time) Outcome {
	body, err := eventJSON(n.Event)
	if err != nil {
		return Outcome{Err: err, Permanent: true}
	}
	h := http.Header{}
	h.Set("webhook-id", n.Id)
	ts := strconv.FormatInt(at.Unix(), 10)
	h.Set("webhook-timestamp", ts)
	if ch.SigningSecret != "" {
		secret, bad := s.secret("signing_secret", ch.SigningSecret)
		if bad != nil {
			return *bad
		}
		key, err := SigningKey(secret)
		if err != nil {
			return Outcome{Err: err, Permanent: true}
		}
		h.Set("webhook-signature", Sign(key, n.Id, ts, body))
	}
	return s.post(ctx, ch.Url, body, h)
}

// SigningKey reads a Standard Webhooks secret: "whsec_" and base64, or else the raw bytes.
func SigningKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errSigningKey
	}
	return key, nil
}

type constError string

func (e constError) Error() string { return string(e) }

const errSigningKey = constError(`signing secret starts with "whsec_" but the rest is not base64: replace it with lookout-controller vault replace-secret`)

// Sign is the webhook-signature header value: "v1," and base64(HMAC-SHA256(key, id.timestamp.body)).
func Sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
