package notify

import (
	"context"
	"encoding/json"
	"net/http"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// slack posts an incoming-webhook message: a readable first line, the details under it.
func (s *Sender) slack(ctx context.Context, ch *pb.Channel, n *pb.Notification) Outcome {
	url, bad := s.secret("webhook_url_secret", ch.WebhookUrlSecret)
	if bad != nil {
		return *bad
	}
	text := "*" + oneLine(summary(n.Event)) + "*"
	if d := details(n.Event); d != "" {
		text += "\n" + d
	}
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return Outcome{Err: err, Permanent: true}
	}
	return s.post(ctx, url, body, http.Header{})
}
