// Package fhirpas is the connector kind "fhirpas": it speaks the HL7 Da Vinci
// Prior Authorization Support (PAS) 2.x API of a payer — Claim/$submit with a
// PAS request Bundle built from a case, Claim/$inquire to follow a pended or
// submitted request — over OAuth2 client credentials, and turns the payer's
// ClaimResponse review actions into authpilot statuses and determinations.
//
// See README.md for the options, the status rule and the retry policy.
package fhirpas
