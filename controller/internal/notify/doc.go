// Package notify delivers the notifications package alerting queues in the store's outbox: to
// webhooks (signed per Standard Webhooks), Slack incoming webhooks, PagerDuty Events API v2 and
// email over SMTP. Delivery is at-least-once: each channel has its own worker, a failed attempt is
// retried with backoff (honouring Retry-After), other 4xx answers fail for good, and every attempt
// is recorded on the notification.
//
// It never decides what to notify, never writes a secret value into a notification, a log line or
// an attempt's error, and a slow or dead receiver never holds up another channel or result ingest.
package notify
