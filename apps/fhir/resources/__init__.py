"""Our rows as FHIR resources, one module per group of types; ``apps.fhir.mapping`` registers them."""
