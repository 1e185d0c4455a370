package store_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/store"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

func TestHandleInboundBatch(t *testing.T) {
	ctx := context.Background()
	st := testdb.Store(t)
	count := func(q string) int {
		t.Helper()
		var n int
		if err := st.Pool().QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	in := func(sid, from string) store.Inbound {
		return store.Inbound{SID: sid, From: from, To: "+447700900999", Body: "1"}
	}
	answer := func(i int, tx *store.InboundTx) (store.Reply, error) {
		return store.Reply{Kind: "unknown_sender", NeedsHuman: true, TwiML: "<Response>" + string(rune('a'+i)) + "</Response>"}, nil
	}
	boom := errors.New("boom")

	tests := []struct {
		name    string
		batch   []store.Inbound
		decide  func(int, *store.InboundTx) (store.Reply, error)
		wantErr error
		// stored is the number of inbound messages afterwards.
		stored int
		dups   []bool
		twiml  []string
	}{
		{"two new messages", []store.Inbound{in("SM1", "+447911000001"), in("SM2", "+447911000002")}, answer, nil, 2,
			[]bool{false, false}, []string{"<Response>a</Response>", "<Response>b</Response>"}},
		{"a repeat and a new one", []store.Inbound{in("SM2", "+447911000002"), in("SM3", "+447911000003")}, answer, nil, 3,
			[]bool{true, false}, []string{"<Response>b</Response>", "<Response>b</Response>"}},
		{"one failure fails the batch", []store.Inbound{in("SM4", "+447911000004"), in("SM5", "+447911000005")},
			func(i int, tx *store.InboundTx) (store.Reply, error) {
				if i == 1 {
					return store.Reply{}, boom
				}
				return answer(i, tx)
			}, boom, 3, nil, nil},
		{"two from one number", []store.Inbound{in("SM6", "+447911000006"), in("SM7", "+447911000006")}, answer, store.ErrInvalidBatch, 3, nil, nil},
		{"one message twice", []store.Inbound{in("SM8", "+447911000008"), in("SM8", "+447911000009")}, answer, store.ErrInvalidBatch, 3, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := st.HandleInboundBatch(ctx, tt.batch, tt.decide)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := count(`SELECT count(*) FROM messages WHERE direction = 'in'`); got != tt.stored {
				t.Errorf("stored = %d, want %d", got, tt.stored)
			}
			for i := range tt.dups {
				if res[i].Duplicate != tt.dups[i] || res[i].TwiML != tt.twiml[i] {
					t.Errorf("result %d = %+v, want duplicate %v, %q", i, res[i], tt.dups[i], tt.twiml[i])
				}
			}
		})
	}
	if got := count(`SELECT count(*) FROM messages WHERE direction = 'in' AND (reply IS NULL OR NOT needs_human)`); got != 0 {
		t.Errorf("%d messages stored without their outcome", got)
	}
}
