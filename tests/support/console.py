"""What the staff console's lists share, for tests that go through every one of them."""

from __future__ import annotations

# Each console list with filters, a filter that takes one value given twice, and
# who may open it.
REPEATED_FILTERS = [
    ("licensing_staff", "/console/applications?sort=newest&sort=oldest", "sort", "Sort"),
    (
        "licensing_staff",
        "/console/applications?assignee=me&assignee=nobody",
        "assignee",
        "Assignee",
    ),
    ("licensing_staff", "/console/applications?q=Acme&q=Globex", "q", "Search"),
    ("licensing_staff", "/console/permissions/?state=open&state=approved", "state", "State"),
    ("licensing_staff", "/console/permissions/?assignee=me&assignee=none", "assignee", "Assignee"),
    ("licensing_staff", "/console/royalty-reports?state=due&state=overdue", "state", "State"),
    (
        "licensing_staff",
        "/console/royalty-reports?agreement=CPT&agreement=X",
        "agreement",
        "Agreement number",
    ),
    ("admin", "/console/audit?action=invoice.&action=payment.", "action", "Action"),
    ("admin", "/console/audit?entity_id=1&entity_id=2", "entity_id", "Record id or reference"),
    ("admin", "/console/outbox?state=sent&state=failed", "state", "State"),
    ("admin", "/console/outbox?to=a&to=b", "to", "Recipient"),
    (
        "licensing_staff",
        "/console/organizations?standing=active&standing=closed",
        "standing",
        "Standing",
    ),
    ("licensing_staff", "/console/organizations?q=a&q=b", "q", "Name, or a member's name or email"),
    ("admin", "/console/users?kind=staff&kind=vendor", "kind", "Kind"),
    ("admin", "/console/users?q=a&q=b", "q", "Email or name"),
    (
        "billing_staff",
        "/console/invoices?q=a&q=b",
        "q",
        "Number, organization, payment reference or amount",
    ),
]
