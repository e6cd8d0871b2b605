package agenttest

import (
	"fmt"
	"net/http/httptest"
	"testing"

	// KeystonePAS's connector is of this kind.
	_ "github.com/authpilot/authpilot/connectors/fhirpas"
	"github.com/authpilot/authpilot/payersim/pas"
)

// StartPAS serves a PAS simulator answering by rules on loopback until the
// test ends (or the server is closed).
func StartPAS(t testing.TB, rules ...pas.Rule) (*pas.Server, *httptest.Server) {
	t.Helper()
	sim := pas.New(pas.Options{Scenario: pas.Scenario{Rules: rules}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

// KeystonePAS is the payers: and connectors: sections of one fhirpas
// connector, keystone-pas, for the commercial payer keystone-ppo against
// the PAS simulator at url (its client secret in the secret pas-secret),
// every schedule off; limits, if set, is the connector's limits: value.
func KeystonePAS(url, limits string) string {
	y := fmt.Sprintf(`payers: [{id: keystone-ppo, plan_type: commercial, connector: keystone-pas}]
connectors:
  - id: keystone-pas
    kind: fhirpas
    options: {base_url: %q, token_url: %q, client_id: authpilot, client_secret: pas-secret}
    schedule: {submit: "", poll: ""}
`, url, url+"/token")
	if limits != "" {
		y += "    limits: " + limits + "\n"
	}
	return y
}
