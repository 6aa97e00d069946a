from flows.models.systems import System

__all__ = ["System"]
