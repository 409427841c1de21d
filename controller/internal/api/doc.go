// Package api implements the controller's gRPC services: AdminService (admin token), AgentService
// (enrollment token, then the agent's client certificate) and ResultService (admin token).
//
// It maps domain errors to gRPC status codes with messages in the user's terms, and it never
// returns secret material from a read call. Run secrets leave only through FetchRunSecrets, sealed
// to the agent the run was dispatched to; the platform certificate only to public agents.
package api
