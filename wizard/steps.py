"""The wizard's steps, in order, by name, with the titles the spec gives them."""

ENTITY = "entity"
ENTITY_SETTINGS = "entity_settings"
SOURCE = "source"
SOURCE_SETTINGS = "source_settings"
FIELD_MAPPING = "field_mapping"
SHARE = "share"
REVIEW = "review"

STEP_TITLES = {
    ENTITY: "Entity Selection",
    ENTITY_SETTINGS: "Entity Specific Settings",
    SOURCE: "Source Selection",
    SOURCE_SETTINGS: "Source Specific Settings",
    FIELD_MAPPING: "Field Mapping",
    SHARE: "Share Settings",
    REVIEW: "Review",
}
