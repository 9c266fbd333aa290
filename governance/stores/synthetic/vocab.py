"""Word lists for fictional families. Short on purpose: combinations are invented."""

GIVEN_NAMES_CHILD = (
    "Aaliyah", "Alfie", "Amara", "Archie", "Ava", "Bilal", "Chloe", "Darius", "Ebony", "Elif",
    "Ethan", "Freya", "Grace", "Harvey", "Isla", "Jayden", "Kacper", "Layla", "Leo", "Maisie",
    "Mohammed", "Nia", "Oscar", "Poppy", "Reggie", "Rosie", "Sami", "Tyler", "Zainab", "Zofia",
)
GIVEN_NAMES_ADULT = (
    "Abena", "Adele", "Aisha", "Andrzej", "Bernadette", "Carl", "Chantelle", "Dean", "Delroy", "Donna",
    "Fatima", "Gareth", "Hayley", "Imran", "Joanne", "Kelly", "Kwame", "Lorraine", "Marcus", "Nadia",
    "Paul", "Precious", "Rukhsana", "Shane", "Stacey", "Tomasz", "Wayne", "Yetunde", "Zoe", "Lee",
)
FAMILY_NAMES = (
    "Adeyemi", "Ashworth", "Begum", "Blackwood", "Brennan", "Chowdhury", "Costa", "Dalby", "Eze", "Farrow",
    "Gallagher", "Hussain", "Iqbal", "Jablonski", "Kaur", "Lomax", "Mensah", "Novak", "Okafor", "Pearce",
    "Quigley", "Rahman", "Sheridan", "Thornbury", "Umeh", "Varga", "Whitlock", "Yilmaz", "Zielinski", "Harrop",
)
STREETS = (
    "Larkspur", "Quarry", "Mill", "Orchard", "Wharf", "Beacon", "Kestrel", "Foundry", "Meadow", "Tannery",
    "Chapel", "Hawthorn", "Canal", "Weaver", "Granary",
)
STREET_KINDS = ("Road", "Street", "Close", "Avenue", "Way", "Court", "Terrace")
TOWNS = ("Westbury Vale", "Northcombe", "Ashby Marsh", "Fenwick", "Castleholme")

PROFESSIONAL_ROLES = (
    ("family worker", "Early Help Service"),
    ("social worker", "Children's Social Care"),
    ("health visitor", "Community Health Trust"),
    ("school nurse", "Community Health Trust"),
    ("designated safeguarding lead", "Northcombe Primary School"),
    ("Home-Start coordinator", "Home-Start Westbury Vale"),
    ("youth worker", "Youth Service"),
)
VOLUNTEER_NAMES = ("volunteer.ellis", "volunteer.moss", "volunteer.quade", "student.placement")
STAFF_USERS = ("fw.harding", "sw.okoro", "tm.pryce", "admin.lewin", "ig.officer")

CLOSURE_REASONS = (
    "needs met", "family declined further support", "moved out of area", "stepped up to social care",
    "stepped down to universal services", "child turned 18", "adoption order granted",
)
NOTE_TITLES = (
    "Home visit", "Phone call", "Team around the family meeting", "School liaison", "Review of plan",
    "Strategy discussion", "Supervision note", "Case transfer", "Contact with GP", "Outcome of referral",
)
PRIVACY_NOTICE_TITLE = "Privacy notice shared with family"
PURPOSES = (
    "coordinate support plan", "safeguarding referral", "school attendance support", "health follow-up",
    "housing support application", "multi-agency meeting preparation",
)
DOCUMENT_KINDS = (
    ("Early help assessment", None), ("Child and family plan", None), ("Signed consent form", None),
    ("Health visitor report", "Community Health Trust"), ("School report", "Northcombe Primary School"),
    ("Police notification", "Police"), ("Housing letter", "Housing Association"),
)
