package api

import (
	"sync"

	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// Hub fans stored results out to live collectors. A collector that falls behind by more than its
// buffer is dropped; it resumes from the store with after_sequence.
type Hub struct {
	mu   sync.Mutex
	subs map[chan *pb.RunResult]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[chan *pb.RunResult]struct{}{}} }

// Publish sends res to every subscriber without blocking.
func (h *Hub) Publish(res *pb.RunResult) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- res:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// Subscribe returns a channel of results and a function that ends the subscription.
func (h *Hub) Subscribe(buffer int) (<-chan *pb.RunResult, func()) {
	ch := make(chan *pb.RunResult, buffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}
