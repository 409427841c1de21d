// Command target is the API the Docker suite's private checkpoint monitors: go-httpbin on :8080,
// reachable only on the suite's "customer" network.
package main

import (
	"log"
	"net/http"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

func main() {
	srv := &http.Server{Addr: ":8080", Handler: httpbin.New(httpbin.WithMaxDuration(30 * time.Second)), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
