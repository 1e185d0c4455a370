package sandbox

import (
	"context"
	"fmt"
	"slices"
)

// Messages returns the messages the application sent (through the API or
// in reply to an inbound webhook), oldest first.
func (s *Server) Messages() []Message {
	return s.messagesWhere(func(m *msgRec) bool { return m.Direction != DirectionInbound })
}

// Received returns the SMS the personas (or Inbound) sent to the
// application, oldest first.
func (s *Server) Received() []Message {
	return s.messagesWhere(func(m *msgRec) bool { return m.Direction == DirectionInbound })
}

func (s *Server) messagesWhere(keep func(*msgRec) bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, sid := range s.msgOrder {
		if m := s.messages[sid]; keep(m) {
			out = append(out, m.snapshot())
		}
	}
	return out
}

// Message returns the message with sid.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[sid]
	if !ok {
		return Message{}, false
	}
	return m.snapshot(), true
}

// Webhooks returns every webhook sent so far, oldest first.
func (s *Server) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.webhooks)
}

// WaitFor waits until cond returns true. cond is evaluated now and after
// every change of the sandbox's state (a message, call or webhook); it may
// call the Server's other methods.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", errTimeout, ctx.Err())
		}
	}
}

// WaitIdle waits until no status callback, reply or call is pending.
func (s *Server) WaitIdle(ctx context.Context) error {
	if err := s.sched.waitIdle(ctx); err != nil {
		return fmt.Errorf("%w: %w", errTimeout, err)
	}
	return nil
}

// Calls returns every call created, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, 0, len(s.callOrder))
	for _, sid := range s.callOrder {
		out = append(out, s.calls[sid].snapshot())
	}
	return out
}

// Call returns the call with sid.
func (s *Server) Call(sid string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[sid]
	if !ok {
		return Call{}, false
	}
	return c.snapshot(), true
}
