package redisstore

import (
	"context"
	"testing"
	"time"
)

func TestPublishSubscribeChanges(t *testing.T) {
	srv := startRedis(t, serverConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := openStore(t, "redis://"+srv.addr()+"/0", nil)
	b := openStore(t, "redis://"+srv.addr()+"/0", nil)
	defer a.Close()
	defer b.Close()
	ch := b.SubscribeChanges(ctx)
	deadline := time.After(5 * time.Second)
	for {
		a.PublishChange(ctx, "RYKEY1")
		select {
		case id := <-ch:
			if id != "RYKEY1" {
				t.Fatalf("got %q", id)
			}
			return
		case <-time.After(100 * time.Millisecond): // the subscription may not be ready yet
		case <-deadline:
			t.Fatal("no change delivered")
		}
	}
}
