import re

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from entities.models import EntityAccess, EntityField, EntityType, Record


class EntityFieldForm(forms.ModelForm):
    class Meta:
        model = EntityField
        fields = [
            "name",
            "label",
            "field_type",
            "required",
            "is_unique_identifier",
            "max_length",
            "validation_regex",
            "position",
        ]

    def clean_validation_regex(self) -> str:
        pattern: str = self.cleaned_data["validation_regex"]
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationError(f"Not a valid regular expression: {exc}") from None
        return pattern


class EntityFieldFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        live = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        identifiers = [f for f in live if f.cleaned_data.get("is_unique_identifier")]
        if len(identifiers) != 1:
            raise ValidationError("Mark exactly one field as the unique identifier.")


class EntityFieldInline(admin.TabularInline):
    model = EntityField
    form = EntityFieldForm
    formset = EntityFieldFormSet
    extra = 1


class EntityAccessInline(admin.TabularInline):
    """Who may write into the entity type, and who may also delete from it (Sync). Nobody
    but superusers may until a row here says so."""

    model = EntityAccess
    extra = 0
    autocomplete_fields = ["user", "group"]
    verbose_name_plural = "access (superusers always have it; nobody else until listed here)"


@admin.register(EntityType)
class EntityTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "unique_field"]
    list_filter = ["category"]
    search_fields = ["name"]
    inlines = [EntityFieldInline, EntityAccessInline]


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["external_id", "entity_type", "connector_id", "updated_at"]
    list_filter = ["entity_type"]
    search_fields = ["external_id"]
    readonly_fields = [
        "entity_type",
        "external_id",
        "data",
        "last_file_id",
        "connector_id",
        "created_at",
        "updated_at",
    ]
