"""Service types (contract): slug → area. The area always follows from the service type."""

from enum import StrEnum


class Area(StrEnum):
    FAMILY = "family"
    HEALTH = "health"
    LEISURE = "leisure"
    WORK = "work"


class ServiceType(StrEnum):
    CHILDCARE = "childcare"
    AFTER_SCHOOL = "after_school"
    SUMMER_CAMP = "summer_camp"
    BABYSITTING = "babysitting"
    ELDERLY_CARE = "elderly_care"
    DISABILITY_SUPPORT = "disability_support"
    HEALTH_SCREENING = "health_screening"
    PSYCHOLOGICAL_SUPPORT = "psychological_support"
    PHYSIOTHERAPY = "physiotherapy"
    HOME_NURSING = "home_nursing"
    NUTRITION = "nutrition"
    SPORT = "sport"
    CULTURE = "culture"
    COURSES = "courses"
    SOCIAL_ACTIVITIES = "social_activities"
    COWORKING = "coworking"
    SMART_WORKING_ADVICE = "smart_working_advice"
    TRAINING = "training"
    MOBILITY = "mobility"
    ERRANDS = "errands"
    LEGAL_TAX_ADVICE = "legal_tax_advice"


_AREAS: dict[Area, tuple[ServiceType, ...]] = {
    Area.FAMILY: (
        ServiceType.CHILDCARE,
        ServiceType.AFTER_SCHOOL,
        ServiceType.SUMMER_CAMP,
        ServiceType.BABYSITTING,
        ServiceType.ELDERLY_CARE,
        ServiceType.DISABILITY_SUPPORT,
    ),
    Area.HEALTH: (
        ServiceType.HEALTH_SCREENING,
        ServiceType.PSYCHOLOGICAL_SUPPORT,
        ServiceType.PHYSIOTHERAPY,
        ServiceType.HOME_NURSING,
        ServiceType.NUTRITION,
    ),
    Area.LEISURE: (
        ServiceType.SPORT,
        ServiceType.CULTURE,
        ServiceType.COURSES,
        ServiceType.SOCIAL_ACTIVITIES,
    ),
    Area.WORK: (
        ServiceType.COWORKING,
        ServiceType.SMART_WORKING_ADVICE,
        ServiceType.TRAINING,
        ServiceType.MOBILITY,
        ServiceType.ERRANDS,
        ServiceType.LEGAL_TAX_ADVICE,
    ),
}

AREA_OF: dict[ServiceType, Area] = {st: area for area, sts in _AREAS.items() for st in sts}


def area_of(service_type: ServiceType | str) -> Area:
    """The area (family, health, leisure, work) a service type belongs to."""
    return AREA_OF[ServiceType(service_type)]
