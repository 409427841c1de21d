package notify

import (
	"context"
	"crypto/tls"
	"fmt"

	mail "github.com/wneessen/go-mail"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// email sends a plain-text mail over SMTP with STARTTLS (required), implicit TLS, or — on a
// loopback relay only, checked when the channel is applied — none.
func (s *Sender) email(ctx context.Context, ch *pb.Channel, n *pb.Notification) Outcome {
	msg := mail.NewMsg()
	if err := msg.From(ch.From); err != nil {
		return Outcome{Err: fmt.Errorf("from: %w", err), Permanent: true}
	}
	if err := msg.To(ch.To...); err != nil {
		return Outcome{Err: fmt.Errorf("to: %w", err), Permanent: true}
	}
	msg.Subject("[Lookout] " + oneLine(summary(n.Event)))
	msg.SetMessageIDWithValue(n.Id + "@lookout")
	msg.SetBodyString(mail.TypeTextPlain, summary(n.Event)+"\n\n"+details(n.Event))
	c, bad := s.smtpClient(ch.Smtp)
	if bad != nil {
		return *bad
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return Outcome{Err: fmt.Errorf("smtp %s:%d: %w", ch.Smtp.GetHost(), ch.Smtp.GetPort(), err)}
	}
	return Outcome{}
}

func (s *Sender) smtpClient(cfg *pb.SMTPServer) (*mail.Client, *Outcome) {
	opts := []mail.Option{mail.WithPort(int(cfg.GetPort())), mail.WithTLSConfig(&tls.Config{ServerName: cfg.GetHost(), RootCAs: s.SMTPRootCAs, MinVersion: tls.VersionTLS12})}
	switch cfg.GetTls() {
	case pb.SMTPTLS_SMTPTLS_TLS:
		opts = append(opts, mail.WithSSL())
	case pb.SMTPTLS_SMTPTLS_NONE:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if cfg.GetUsername() != "" {
		password, bad := s.secret("smtp.password_secret", cfg.GetPasswordSecret())
		if bad != nil {
			return nil, bad
		}
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(cfg.GetUsername()), mail.WithPassword(password))
	}
	c, err := mail.NewClient(cfg.GetHost(), opts...)
	if err != nil {
		return nil, &Outcome{Err: fmt.Errorf("smtp: %w", err), Permanent: true}
	}
	return c, nil
}
