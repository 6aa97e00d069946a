from .breaches import Breach, PurgeLog, RetentionRule
from .register import (
    ActivitySnapshot,
    ControllerProfile,
    DataCategory,
    ProcessingActivity,
    Purpose,
    SubjectCategory,
    SystemPrivacy,
)
from .requests import DataSubjectRequest, ErasureStrategy, EvidencePack, RequestTask, SuppressedSubject

__all__ = [
    "ActivitySnapshot",
    "Breach",
    "ControllerProfile",
    "DataCategory",
    "DataSubjectRequest",
    "ErasureStrategy",
    "EvidencePack",
    "ProcessingActivity",
    "PurgeLog",
    "Purpose",
    "RequestTask",
    "RetentionRule",
    "SubjectCategory",
    "SuppressedSubject",
    "SystemPrivacy",
]
