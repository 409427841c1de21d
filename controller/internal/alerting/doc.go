// Package alerting owns each monitor's alerting state (ok → unconfirmed → down → ok, muted,
// paused), its alerts and their escalation levels, reminders and recovery. It decides which
// notifications to send and queues them in the store's outbox in the same transaction as the state
// change that causes them; package notify delivers them.
//
// It never delivers anything itself and never reads a secret value. A result the controller made
// itself (agent lost, checkpoint unavailable, policy, a restart) says nothing about the monitored
// API: it never moves a monitor's state.
package alerting
