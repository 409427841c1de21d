package notify

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
	"github.com/lookout-synthetics/lookout/internal/testutil"
)

// mailbox is a real SMTP server (go-smtp) on loopback that requires STARTTLS and PLAIN auth.
type mailbox struct {
	mu    sync.Mutex
	mails []string
	rcpts []string
	tls   []bool
}

type session struct {
	mb   *mailbox
	conn *smtp.Conn
}

func (mb *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{mb: mb, conn: c}, nil
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "lookout" || pass != "smtp-pass" {
			return errors.New("invalid credentials")
		}
		return nil
	}), nil
}
func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	s.mb.rcpts = append(s.mb.rcpts, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	_, isTLS := s.conn.TLSConnectionState()
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	s.mb.mails, s.mb.tls = append(s.mb.mails, string(b)), append(s.mb.tls, isTLS)
	return err
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func TestEmailOverSTARTTLSWithAuth(t *testing.T) {
	ca := testutil.NewCA(t, "smtp CA")
	leaf := ca.Issue(t, "smtp", true)
	mb := &mailbox{}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	port := l.Addr().(*net.TCPAddr).Port

	e := newEnv(t)
	e.d.o.Sender.SMTPRootCAs = ca.Pool()
	e.secret("smtp-pw", "smtp-pass")
	e.channel(&pb.Channel{Name: "mail", Type: pb.ChannelType_CHANNEL_TYPE_EMAIL, From: "lookout@example.net", To: []string{"ops@example.net"},
		Smtp: &pb.SMTPServer{Host: "127.0.0.1", Port: int32(port), Username: "lookout", PasswordSecret: "smtp-pw", Tls: pb.SMTPTLS_SMTPTLS_STARTTLS}})
	n := e.settled(e.enqueue("mail", "alert.opened").Id)
	if n.State != pb.NotificationState_NOTIFICATION_STATE_DELIVERED {
		t.Fatalf("email: %v %v", n.State, n.Attempts)
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if len(mb.mails) != 1 || !mb.tls[0] || mb.rcpts[0] != "ops@example.net" {
		t.Fatalf("mailbox got %d mails (tls %v) for %v", len(mb.mails), mb.tls, mb.rcpts)
	}
	for _, want := range []string{"Subject: [Lookout] DOWN: monitor shop is failing on paris", "expected status 200, got 503"} {
		if !strings.Contains(mb.mails[0], want) {
			t.Errorf("mail does not contain %q:\n%s", want, mb.mails[0])
		}
	}
	if strings.Contains(mb.mails[0], "smtp-pass") {
		t.Error("the mail carries the SMTP password")
	}
}
