"""The request types citizens and the call centre can file (Open311 "services")."""

SERVICES = [
    {
        "service_code": "road_damage",
        "service_name": "道路破损",
        "group": "城市管理",
        "description": "道路、人行道、井盖破损或缺失",
    },
    {
        "service_code": "street_lighting",
        "service_name": "路灯故障",
        "group": "城市管理",
        "description": "路灯不亮、常亮或损坏",
    },
    {
        "service_code": "sanitation",
        "service_name": "环境卫生",
        "group": "城市管理",
        "description": "垃圾未清运、乱堆乱放",
    },
    {
        "service_code": "noise",
        "service_name": "噪声扰民",
        "group": "生态环境",
        "description": "施工、商业或生活噪声",
    },
    {
        "service_code": "water_supply",
        "service_name": "供水问题",
        "group": "公用事业",
        "description": "停水、水压低、水质异常",
    },
    {
        "service_code": "public_service_advice",
        "service_name": "政务服务咨询建议",
        "group": "政务服务",
        "description": "办事指南咨询、意见和建议",
    },
]

SERVICE_CODES = {service["service_code"] for service in SERVICES}


def as_open311() -> list[dict]:
    return [
        {**service, "metadata": False, "type": "realtime", "keywords": ""} for service in SERVICES
    ]
