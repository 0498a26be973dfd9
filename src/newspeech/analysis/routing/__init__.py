"""Each analyst's routing record: the scenario, report types and building type they chose last,
offered as the default on their next upload."""
