"""LinkedIn's technical sign-off checklist: `checks` answers each line from LeadSync's state,
`render` shows the answers as text or as an HTML page."""
