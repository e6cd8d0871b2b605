package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// payerOf maps the config's payers to the simulators their connectors
// talk to.
var payerOf = map[string]string{"summit-ma": "payer", "clearview-rbm": "rbm", "keystone-ppo": "pas"}

// connectorSim maps connector IDs to simulators.
var connectorSim = map[string]string{"summit-portal": "payer", "clearview-rbm": "rbm", "keystone-pas": "pas"}

// order is one case the practice's system sends, with the key it sends it
// under.
type order struct {
	key  string // Idempotency-Key
	body []byte
	kind string // plain, same-key, same-ref, sibling, retry
}

// caseGen makes orders from a seeded source: plain ones at the three
// payers and the adversarial ones (the same order posted twice with the
// same Idempotency-Key and external_ref, a re-import under another key,
// a sibling of the same member and code on another service date).
type caseGen struct {
	rnd   *rand.Rand
	today time.Time
	n     int
	prev  []map[string]any // earlier cases, for siblings
}

func (g *caseGen) next() []order {
	g.n++
	switch r := g.rnd.IntN(100); {
	case r < 15 && len(g.prev) > 0:
		// The same order twice, same key and external_ref (a client that
		// retries, a double click).
		o := g.plain()
		return []order{o, {key: o.key, body: o.body, kind: "same-key"}}
	case r < 25 && len(g.prev) > 0:
		// Re-imported: same external_ref, a new key.
		o := g.plain()
		return []order{o, {key: fmt.Sprintf("chaos-%d-reimport", g.n), body: o.body, kind: "same-ref"}}
	case r < 40 && len(g.prev) > 0:
		// Same member and codes, another service date.
		base := g.prev[g.rnd.IntN(len(g.prev))]
		c := clone(base)
		c["external_ref"] = fmt.Sprintf("ORD-C%05d", g.n)
		c["service_date"] = g.today.AddDate(0, 0, 61+g.rnd.IntN(30)).Format(time.DateOnly)
		g.prev = append(g.prev, c)
		return []order{{key: fmt.Sprintf("chaos-%d", g.n), body: mustJSON(c), kind: "sibling"}}
	}
	return []order{g.plain()}
}

// nextAt makes a plain order for the payer whose simulator is sim.
func (g *caseGen) nextAt(sim string) []order {
	g.n++
	for payer, s := range payerOf {
		if s == sim {
			return []order{g.plainAt(payer)}
		}
	}
	return []order{g.plain()}
}

func (g *caseGen) plain() order {
	payers := []string{"summit-ma", "clearview-rbm", "keystone-ppo"}
	return g.plainAt(payers[g.rnd.IntN(len(payers))])
}

func (g *caseGen) plainAt(payer string) order {
	var lines []map[string]any
	track := "surgery"
	switch payer {
	case "clearview-rbm":
		track = "imaging"
		lines = []map[string]any{{"code": []string{"72148", "72158", "72131"}[g.rnd.IntN(3)], "units": 1, "level": "Lumbar"}}
	case "summit-ma":
		if g.rnd.IntN(2) == 0 {
			track = "injection"
			lines = []map[string]any{{"code": "62323", "units": 1, "level": "L5-S1"}}
		} else {
			lines = []map[string]any{{"code": "22612", "units": 1, "level": "L4-L5"}}
			if g.rnd.IntN(2) == 0 {
				lines = append(lines, map[string]any{"code": "22614", "units": 1, "level": "L5-S1"})
			}
		}
	default:
		lines = []map[string]any{{"code": []string{"22612", "63030"}[g.rnd.IntN(2)], "units": 1, "level": "L4-L5"}}
	}
	c := map[string]any{
		"external_ref": fmt.Sprintf("ORD-C%05d", g.n),
		"patient": map[string]any{"first_name": "Chaos", "last_name": fmt.Sprintf("Patient%d", g.n),
			"dob":       fmt.Sprintf("19%02d-%02d-%02d", 45+g.rnd.IntN(40), 1+g.rnd.IntN(12), 1+g.rnd.IntN(28)),
			"member_id": fmt.Sprintf("CH%08d", g.rnd.IntN(100000000))},
		"payer": payer, "track": track,
		"ordering_provider": map[string]any{"npi": "1245319599", "name": "Lakeside Spine"},
		"service_lines":     lines, "diagnoses": []string{"M48.062"},
		"service_date":   g.today.AddDate(0, 0, 20+g.rnd.IntN(40)).Format(time.DateOnly),
		"clinical_notes": "Radicular pain despite 8 weeks of PT and NSAIDs.",
	}
	g.prev = append(g.prev, c)
	return order{key: fmt.Sprintf("chaos-%d", g.n), body: mustJSON(c), kind: "plain"}
}

func clone(m map[string]any) map[string]any {
	var out map[string]any
	_ = json.Unmarshal(mustJSON(m), &out)
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// client is the practice's system: it posts orders, keeps every
// acknowledgement, and retries an order whose answer it never got with
// the same Idempotency-Key, as a careful client would.
type client struct {
	url, token string
	http       *http.Client

	mu      sync.Mutex
	acked   []Acked
	retry   []order
	posts   int
	refused map[int]int // 4xx statuses other than 200/201
	byKind  map[string]int
}

// post sends one order; an order without an answer (the daemon died)
// is queued for a retry.
func (c *client) post(ctx context.Context, o order) {
	c.mu.Lock()
	c.posts++
	c.byKind[o.kind]++
	c.mu.Unlock()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/v1/cases", bytes.NewReader(o.body))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", o.key)
	resp, err := c.http.Do(req)
	if err != nil {
		c.queueRetry(o)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.queueRetry(o)
		return
	}
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated:
		var v struct {
			ID          string `json:"id"`
			ExternalRef string `json:"external_ref"`
		}
		if json.Unmarshal(body, &v) != nil || v.ID == "" {
			c.queueRetry(o)
			return
		}
		c.mu.Lock()
		c.acked = append(c.acked, Acked{CaseID: v.ID, Status: resp.StatusCode, IdempotencyKey: o.key, ExternalRef: v.ExternalRef})
		c.mu.Unlock()
	case resp.StatusCode >= 500:
		c.queueRetry(o)
	default:
		c.mu.Lock()
		c.refused[resp.StatusCode]++
		c.mu.Unlock()
	}
}

func (c *client) queueRetry(o order) {
	c.mu.Lock()
	c.retry = append(c.retry, order{key: o.key, body: o.body, kind: "retry"})
	c.mu.Unlock()
}

// retries sends every queued retry once more (each may queue again).
func (c *client) retries(ctx context.Context) {
	c.mu.Lock()
	q := c.retry
	c.retry = nil
	c.mu.Unlock()
	for _, o := range q {
		c.post(ctx, o)
	}
}

func (c *client) ackedIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, a := range c.acked {
		if !seen[a.CaseID] {
			seen[a.CaseID] = true
			out = append(out, a.CaseID)
		}
	}
	return out
}

// caseView is the part of GET /v1/cases/{id} the run reads.
type caseView struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Version int    `json:"version"`
	Events  []struct {
		ID int64 `json:"id"`
	} `json:"events"`
}

func (c *client) get(ctx context.Context, id string) (*caseView, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/v1/cases/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get case: HTTP %d", resp.StatusCode)
	}
	var v caseView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	return &v, nil
}
