// Package sinks links in every sink kind built into authpilot: importing it
// for its side effects registers each kind with notify (notify.Register in
// the kind's init). Adding a kind is a package and one line here.
package sinks

import (
	_ "github.com/authpilot/authpilot/notify/email"   // type: email
	_ "github.com/authpilot/authpilot/notify/slack"   // type: slack
	_ "github.com/authpilot/authpilot/notify/teams"   // type: teams
	_ "github.com/authpilot/authpilot/notify/webhook" // type: webhook
)
