"""Research extracts: studies, pseudonymised extracts, disclosure control, end of study.

Families are told their information is "anonymised then destroyed on
completion of the study" (seed 001). This package makes that true and provable
(see docs/research.md):

- :mod:`~governance.research.spec`, :mod:`~governance.research.catalogue`: the study
  specification (TOML/JSON) and the fields an extract may hold;
- :mod:`~governance.research.studies`: register, approve, look up studies;
- :mod:`~governance.research.kms`, :mod:`~governance.research.studykeys`: per-study keys
  wrapped by a KMS-shaped key manager (envelope encryption, crypto-shredding);
- :mod:`~governance.research.source`, :mod:`~governance.research.pipeline`,
  :mod:`~governance.research.pseudonym`, :mod:`~governance.research.generalise`: the
  population query and the vectorised per-batch transformation;
- :mod:`~governance.research.disclosure`: k-anonymity, l-diversity, small cells;
- :mod:`~governance.research.parts`, :mod:`~governance.research.storekeeping`: encrypted
  Parquet parts in object storage, and the record of everything made;
- :mod:`~governance.research.extracts`: build (release or withhold), read, export;
- :mod:`~governance.research.anonymise`, :mod:`~governance.research.ending`: anonymise or
  destroy at the end of a study, certificates;
- :mod:`~governance.research.schedule`: what is due, overdue studies;
- :mod:`~governance.research.discovery`: which studies hold a person (access requests);
- :mod:`~governance.research.forget`: rows of cases the retention sweep destroyed, cut out of live extracts;
- :mod:`~governance.research.recording`: state changes and their ledger entries together.

This module imports nothing: :mod:`governance.state` imports
:mod:`governance.research.tables` to create the state tables, and that must not
pull in pyarrow.
"""

__all__: list[str] = []
