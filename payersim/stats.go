package payersim

import "maps"

// Stats counts what clients did on a portal since it started or since
// ResetStats.
type Stats struct {
	// Logins counts logins that reached the dashboard/home (password, TOTP,
	// CAPTCHA and terms all passed).
	Logins int `json:"logins"`
	// LoginAttempts counts POSTs of the login (payer) or sign-in (RBM) form.
	LoginAttempts int `json:"login_attempts"`
	// MFAAttempts counts POSTs of the TOTP form (payer).
	MFAAttempts int `json:"mfa_attempts"`
	// PageLoads counts every HTML page served, GET or POST, including
	// redirects, error, CAPTCHA and maintenance pages; not /static/, not
	// /_sim/, not letter PDFs.
	PageLoads int `json:"page_loads"`
	// PageLoadsByRoute splits PageLoads by route pattern, e.g.
	// "GET /auth/list" or "POST /login".
	PageLoadsByRoute map[string]int `json:"page_loads_by_route"`
	// Submissions counts requests created through the portal's final submit
	// (not AddRequest).
	Submissions int `json:"submissions"`
	// Refused counts final submits the scenario refused (fate refuse):
	// nothing was recorded for them.
	Refused int `json:"refused"`
	// DetailViews counts payer detail pages and RBM status-lookup results
	// that showed a request.
	DetailViews int `json:"detail_views"`
	// ListViews counts renders of the payer list or RBM order history.
	ListViews int `json:"list_views"`
	// Checks counts status views of single requests (see Outcome).
	Checks int `json:"checks"`
	// LettersDownloaded counts determination letter PDFs served.
	LettersDownloaded int `json:"letters_downloaded"`
	// Uploads counts clinical documents received.
	Uploads int `json:"uploads"`
	// Responses counts uploads of additional information to pended
	// requests; Withdrawals counts requests the provider withdrew.
	Responses   int `json:"responses"`
	Withdrawals int `json:"withdrawals"`
	// FaultsServed counts 500 and maintenance responses injected by Faults.
	FaultsServed int `json:"faults_served"`
}

// Stats returns a copy of the counters.
func (p *Portal) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.PageLoadsByRoute = maps.Clone(p.stats.PageLoadsByRoute)
	return s
}

// ResetStats sets every counter to zero. Requests, sessions, the scenario
// and faults are kept.
func (p *Portal) ResetStats() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats = Stats{PageLoadsByRoute: make(map[string]int)}
}
