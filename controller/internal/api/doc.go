// Package api implements the controller's gRPC services for operators, agents and collectors,
// and the one place that decides who may call what.
//
// Services implemented here:
//   - AdminService (admin.go, admin_vault*.go, admin_alerting.go): vault items, monitors,
//     checkpoints and enrollment tokens, runs, the platform certificate, the audit log. The CLI's
//     admin commands and the web console (in process) act through it, so every action is
//     validated and audited once.
//   - AgentService (agent*.go, renew.go, heartbeat_gate.go): Enroll (with an enrollment token),
//     then, with the agent's client certificate, Heartbeat, FetchRunSecrets, ReportResult and
//     RenewCertificate. RunCalls (runcalls.go) carries FetchRunSecrets and ReportResult as
//     messages on one long-lived bidirectional stream per agent connection, answered by id in any
//     order, each checked and handled exactly as its unary call; agents use it for every run, the
//     unary calls stay for tools and older agents.
//   - ResultService (results.go, hub.go): StreamResults replays stored results when asked (from
//     the start, after a sequence, or since a time; filtered by monitor, checkpoint, failures),
//     then streams new ones as they are stored. Hub fans them out; a collector that falls behind
//     is dropped and resumes from the store with after_sequence.
//   - FleetService (fleet.go): removes checkpoints and revoked agent instances.
//
// Registered beside them by the server, gated by the same table: AlertService (alerting),
// QueryService and TokenService (collect), the gRPC health service and server reflection.
//
// Authorization (auth.go, auth_tokens.go): the methodNeeds table names what each full method
// needs — nothing (Enroll: the request carries its token), an enrolled unrevoked agent's client
// certificate, or a results:read token — and a method it does not name needs an admin token, so a
// service added later is closed until someone opens it there on purpose. Tokens are the bootstrap
// admin token (admin.token) or scoped API tokens (admin or results:read); a scoped token's stream
// is checked again before each message it sends, so a revocation ends it at once. Server
// reflection is open to any valid token (results:read or admin): it describes the schema, no data.
// docs/api.md lists the results:read calls, and a test keeps that list equal to methodNeeds.
//
// It maps domain errors to gRPC status codes with messages in the user's terms, and it never
// returns secret material from a read call. Run secrets leave only through FetchRunSecrets (or
// RunCalls), sealed to the agent the run was dispatched to; the platform certificate only to
// public agents.
package api
