"""Views of the LinkedIn sandbox, split by area: LinkedIn's API (oauth, profile, organizations,
lead_forms, lead_responses, notifications) and the sandbox's own (controls, pages)."""
