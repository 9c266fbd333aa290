"""Subject access requests: register, deadlines, discovery, redaction, review, bundles, delivery.

Modules, in the order a request moves through them:

- :mod:`.deadlines`  the statutory deadline (calendar month, bank holidays, pauses, extension)
- :mod:`.register`   who asked, for whom, when; pauses, extension, status (a pending request holds the subject's cases)
- :mod:`.discovery`  every record about the subject, through the store's mapping, with a search log
- :mod:`.people`, :mod:`.redaction`  third parties the store knows, patterns, whole-record rules; exemption codes
- :mod:`.review`     the review pack, reviewer-only exemptions with a second reviewer, the decision
- :mod:`.export`, :mod:`.pdf`, :mod:`.article15`, :mod:`.package`, :mod:`.delivery`  the bundle and its handover

The DAG tasks and the CLI call :mod:`governance.jobs.sar`. Importing this
package is cheap: submodules are imported where used.
"""

from governance.sar.deadlines import Deadline, calculate_deadline
from governance.sar.exemptions import EXEMPTIONS
from governance.sar.tables import CLOSED_STATUSES, PENDING_STATUSES

__all__ = ["Deadline", "calculate_deadline", "EXEMPTIONS", "PENDING_STATUSES", "CLOSED_STATUSES"]
